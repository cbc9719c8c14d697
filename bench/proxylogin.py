#!/usr/bin/env python
"""CPU of one login through the mail proxy, in process: nginx's auth_http request, then the home node's login.

    .venv/bin/python bench/proxylogin.py [--logins 2000]

In a fresh MAILAPP_HOME (SQLite, migrated, one mailbox, the shipped password hasher) it measures
(``time.thread_time``):
- ``/auth/mailproxy`` through Django's test client (the whole view: guard, password check, placement,
  the one-time token): the first request (the password hash) and the next ones (credential cache hits);
- the home node's login with that token, as IMAP runs it on a proxied connection (guard check, HMAC,
  one read of the stored hash): no hash;
- for comparison, the same login with the password on a node whose credential cache is cold: what
  passing the password through to the backend would cost it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADDRESS, PASSWORD = "bench@example.com", "bench password 1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=2000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="proxylogin-"))
    os.environ.update(MAILAPP_HOME=str(home), DJANGO_SETTINGS_MODULE="mailappliance.settings", MAILAPP_MAILAUTH="0",
                      MAILAPP_LOG_LEVEL="WARNING", CELERY_BROKER_URL="filesystem://localhost//")
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(REPO))
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at", UserWarning)  # whitenoise: no collected static here
    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    from agents import config
    from agents.authcache import login_via_proxy
    from agents.imap.service import authenticate
    from agents.loginguard.db import mail_guard
    from webadmin import services

    services.create_domain("example.com", "admin@example.com")
    services.create_mailbox(ADDRESS, PASSWORD)
    client = Client()
    headers = {"HTTP_AUTH_METHOD": "plain", "HTTP_AUTH_USER": ADDRESS, "HTTP_AUTH_PASS": PASSWORD.replace(" ", "%20"),
               "HTTP_AUTH_PROTOCOL": "imap", "HTTP_CLIENT_IP": "203.0.113.9", "REMOTE_ADDR": "127.0.0.1"}

    def endpoint() -> str:
        answer = client.get("/auth/mailproxy", **headers)
        assert answer["Auth-Status"] == "OK", answer["Auth-Status"]
        return str(answer["Auth-Pass"])

    start = time.thread_time()
    endpoint()
    first = time.thread_time() - start
    for _ in range(100):
        endpoint()
    cached = []
    for _ in range(args.logins):
        start = time.thread_time()
        token = endpoint()
        cached.append(time.thread_time() - start)

    guard = mail_guard()
    login_via_proxy.set(True)
    backend = []
    for _ in range(args.logins):
        start = time.thread_time()
        assert guard.attempt("203.0.113.9", ADDRESS, "imap", lambda: authenticate(ADDRESS, token)).result is not None
        backend.append(time.thread_time() - start)
    login_via_proxy.set(False)
    cold = []
    for _ in range(5):
        config._verified.clear()  # a node that never saw this password: its own cache is cold
        start = time.thread_time()
        assert guard.attempt("203.0.113.9", ADDRESS, "imap", lambda: authenticate(ADDRESS, PASSWORD)).result is not None
        cold.append(time.thread_time() - start)

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"auth_http, first request (hash)       {first * 1e3:8.1f} ms CPU")
    print(f"auth_http, cached (median of {len(cached)})    {statistics.median(cached) * 1e6:8.1f} µs CPU")
    print(f"home node, token login (median of {len(backend)}) {statistics.median(backend) * 1e6:8.1f} µs CPU")
    print(f"home node, password, cold cache (median of 5) {statistics.median(cold) * 1e3:8.1f} ms CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
