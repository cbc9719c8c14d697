"""Backup benchmark: a generated store backed up to a local directory and to an S3 server on loopback.

    .venv/bin/python bench/backup_s3.py [--mailboxes 10] [--messages 500]

The S3 server is moto in server mode (the one the tests use), started here on a
loopback port. For each target: the first backup, a second one with nothing
changed, a third after 10 new messages, then a restore of one domain from it
into the running store. Wall time and this process's CPU time (its upload threads
included; the S3 server's own CPU is not) are printed, with what was sent.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def sample(box: int, i: int) -> bytes:
    return (f"From: Sender {i % 97} <sender{i % 97}@example.org>\r\nTo: user{box}@example.com\r\n"
            f"Subject: Message {i} for mailbox {box}\r\nMessage-ID: <{box}.{i}@bench.example.org>\r\n\r\n"
            + f"Line {i} of a message body that is about this long.\r\n" * 50).encode()


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    from tests.ports import free_port

    port = free_port()
    child = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return child, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or child.poll() is not None:
                child.kill()
                raise SystemExit("moto server did not start") from None
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=10)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="keep the generated home directory afterwards")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="backup-bench-"))
    os.environ["MAILAPP_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailappliance.settings")
    import django

    django.setup()
    import boto3
    from django.core.management import call_command

    from agents.backup import Repository, S3Location, S3Target, backup, restore
    from agents.store import default_store

    call_command("migrate", verbosity=0)
    store = default_store()
    for box in range(args.mailboxes):
        mailbox = store.mailbox(f"user{box}@example.com")
        for i in range(args.messages):
            mailbox.deliver(sample(box, i), "INBOX")
    mail_bytes = sum(p.stat().st_size for p in (home / "mail").rglob("*") if p.is_file())
    print(f"store: {args.mailboxes} mailboxes x {args.messages} messages, {mail_bytes / 1e6:.1f} MB on disk; "
          f"load average {os.getloadavg()[0]:.1f}")
    key = home / "backup.key"
    key.write_bytes(os.urandom(32))
    moto, endpoint = start_moto()
    try:
        boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k",
                                       aws_secret_access_key="s").create_bucket(Bucket="bench")
        location = S3Location(bucket="bench", prefix="mail", endpoint=endpoint, region="us-east-1",
                              access_key="k", secret_key="s")
        targets = {"directory": lambda: home / "archive",
                   "S3 (moto, loopback)": lambda: S3Target(location, home / "run")}
        print(f"{'target':<22} {'run':<28} {'wall s':>8} {'CPU s':>8} {'chunks sent':>12} {'MB sent':>9}")
        fresh = 10_000
        for label, where in targets.items():
            create = True
            for run in ("first backup", "second, nothing changed", "third, 10 new messages"):
                if run.startswith("third"):
                    for _ in range(10):
                        fresh += 1
                        store.mailbox("user0@example.com").deliver(sample(0, fresh), "INBOX")
                repo = Repository.open(where(), key_file=key, create=create)
                create = False
                wall, cpu = time.perf_counter(), time.process_time()
                result = backup(repo)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                print(f"{label:<22} {run:<28} {wall:8.2f} {cpu:8.2f} {result['uploaded']:12d} "
                      f"{result['written'] / 1e6:9.2f}", flush=True)
            repo = Repository.open(where(), key_file=key)
            wall, cpu = time.perf_counter(), time.process_time()
            restore(repo, domain="example.com")
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"{label:<22} {'restore --domain (all)':<28} {wall:8.2f} {cpu:8.2f}", flush=True)
    finally:
        moto.terminate()
        moto.wait(10)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
