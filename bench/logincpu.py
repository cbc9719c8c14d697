#!/usr/bin/env python
"""CPU of one cached mail login: the login guard's check plus the credential cache's hit, in process and via authd.

    .venv/bin/python bench/logincpu.py [--logins 5000] [--profile FILE]

In a fresh MAILAPP_HOME (SQLite, migrated, one mailbox) it logs in once (the hash fills the
credential cache), then runs ``--logins`` logins as the IMAP session does: ``mail_guard().attempt``
with the IMAP service's ``authenticate`` as the verifier, a cache hit each time. A few failures of
other client addresses are in the table, as on a server guessers reach. Prints the median and mean
CPU time (``time.thread_time``) per login and per guard check alone: measurable on a busy host.

Then the same logins as the large profile makes them: the cache in a ``manage.py authd`` process,
asked over its Unix socket (``agents.authsvc``). Printed: the protocol process's thread CPU per login
(guard check, request, answer), the auth service's process CPU per login (from ``/proc``), and both.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADDRESS, PASSWORD = "bench@example.com", "bench password 1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=5000)
    parser.add_argument("--profile", help="write a cProfile of the logins (CPU time) to this file")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="logincpu-"))
    os.environ.update(MAILAPP_HOME=str(home), DJANGO_SETTINGS_MODULE="mailappliance.settings", MAILAPP_MAILAUTH="0",
                      MAILAPP_LOG_LEVEL="WARNING", CELERY_BROKER_URL="filesystem://localhost//")
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from agents.imap.service import authenticate
    from agents.loginguard.db import mail_guard
    from webadmin import services

    services.create_domain("example.com", "admin@example.com")
    services.create_mailbox(ADDRESS, PASSWORD)
    guard = mail_guard()
    for i in range(20):  # other addresses' failures: the table is not empty
        guard.failed(f"192.0.2.{i}", f"user{i}@example.com", "imap")
    ip = "127.0.0.1"

    def login() -> object:
        return guard.attempt(ip, ADDRESS, "imap", lambda: authenticate(ADDRESS, PASSWORD)).result

    assert login() is not None, "the first login failed"
    for _ in range(200):  # warm up
        login()
    profile = cProfile.Profile(time.thread_time) if args.profile else None
    logins, checks = [], []
    for _ in range(args.logins):
        if profile:
            profile.enable()
        start = time.thread_time()
        assert login() is not None
        logins.append(time.thread_time() - start)
        if profile:
            profile.disable()
        start = time.thread_time()
        guard.check(ip, ADDRESS)
        checks.append(time.thread_time() - start)
    if profile and args.profile:
        profile.dump_stats(args.profile)
    via, service_cpu = via_auth_service(home, login, args.logins)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, values in (("cached login", logins), ("guard check", checks), ("via authd", via)):
        print(f"{name:13} median {statistics.median(values) * 1e6:7.1f} µs CPU,"
              f" mean {statistics.fmean(values) * 1e6:7.1f} µs ({len(values)} runs)")
    print(f"{'authd side':13}   mean {service_cpu * 1e6:7.1f} µs CPU per login (process CPU / logins);"
          f" total via authd {(statistics.fmean(via) + service_cpu) * 1e6:.1f} µs"
          f" against {statistics.fmean(logins) * 1e6:.1f} µs in process")
    return 0


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def via_auth_service(home: Path, login: object, count: int) -> tuple[list[float], float]:
    """(this thread's CPU per login, authd's CPU per login) with the cache in a ``manage.py authd`` process."""
    from django.conf import settings

    from agents import authsvc

    socket_path = home / "run" / "auth" / "socket"
    env = dict(os.environ, MAILAPP_AUTH_SOCKET=str(socket_path), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, str(REPO / "manage.py"), "authd"], env=env)
    try:
        for _ in range(600):
            if socket_path.exists():
                break
            time.sleep(0.1)
        settings.MAILAPP_AUTH_SERVICE, settings.MAILAPP_AUTH_SOCKET = True, socket_path
        authsvc._client = None
        assert login() is not None, "the first login through authd failed"  # type: ignore[operator]
        for _ in range(200):
            login()  # type: ignore[operator]
        values = []
        before = process_cpu(proc.pid)
        for _ in range(count):
            start = time.thread_time()
            assert login() is not None  # type: ignore[operator]
            values.append(time.thread_time() - start)
        service = (process_cpu(proc.pid) - before) / count
        return values, service
    finally:
        settings.MAILAPP_AUTH_SERVICE = False
        authsvc.client().close()
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    sys.exit(main())
