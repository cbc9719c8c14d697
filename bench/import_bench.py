"""Import benchmark: ``manage.py importmail`` of an mbox of N small messages (default 10,000).

    .venv/bin/python bench/import_bench.py [--messages 10000] [--tmpfs]

Makes a private MAILAPP_HOME (SQLite, migrated) with one mailbox, writes an mbox
of N messages (every other one with Status/X-Status flags), runs the real
command in a child process and prints the seconds and messages per second. With
``--tmpfs`` the MAILAPP_HOME lives in /dev/shm, so the figure is the importer's,
not the disk's (creating 10,000 files dominates on a shared disk).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADDRESS = "alice@example.com"


def write_mbox(path: Path, count: int) -> None:
    with open(path, "wb") as out:
        for n in range(count):
            out.write(f"From sender{n}@old.example Tue Nov  3 10:{n % 60:02d}:00 2020\n".encode())
            status = "Status: RO\nX-Status: AF\n" if n % 2 else "Status: O\n"
            out.write(f"From: s{n}@old.example\nSubject: old {n}\n{status}\nbody {n}\n>From the past\n\n".encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--tmpfs", action="store_true", help="MAILAPP_HOME in /dev/shm")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="import-bench-", dir="/dev/shm" if args.tmpfs else None))
    try:
        env = dict(os.environ, MAILAPP_HOME=str(home), DJANGO_SETTINGS_MODULE="mailappliance.settings",
                   PYTHONPATH=str(REPO))
        env.pop("MAILAPP_SQLITE_PATH", None)
        env.pop("DATABASE_URL", None)
        setup = (
            "import django; django.setup()\n"
            "from django.core.management import call_command\n"
            "call_command('migrate', verbosity=0)\n"
            "from webadmin import services\n"
            "services.create_domain('example.com', 'admin@example.com')\n"
            f"services.create_mailbox({ADDRESS!r}, 'bench password')\n"
        )
        subprocess.run([sys.executable, "-c", setup], env=env, cwd=REPO, check=True)
        mbox = home / "import.mbox"
        write_mbox(mbox, args.messages)
        started = time.perf_counter()
        subprocess.run([sys.executable, str(REPO / "manage.py"), "importmail", str(mbox), ADDRESS],
                       env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        where = "tmpfs" if args.tmpfs else "disk"
        rate = args.messages / seconds
        print(f"importmail, {args.messages:,} messages ({where}): {seconds:.1f} s = {rate:,.0f} msg/s")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
