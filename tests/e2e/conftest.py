"""The whole appliance, started as a user starts it, for end-to-end stories.

One ``manage.py appliance --no-prepare`` (the supervisor with web, smtp, imap,
pop3, Celery worker and beat) runs per profile (``MAILAPP_PROFILE`` small, then
large: every story runs on both process layouts) on free loopback ports,
with a database of its own: a copy of the (empty, migrated) test database. A
private database keeps it apart from the other areas' tests that run in the
same pytest process (their ``db`` transactions and ``transactional_db``
flushes). Tests talk to it only from outside, as a user or a script would:
SMTP, IMAP, POP3, HTTP, and ``manage.py`` commands with the appliance's
environment. The outside world is a fake DNS server and a fake MX host on
loopback (``remote.test`` → 127.0.0.1).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import MANAGE, PYTHON, REPO, agent_env, free_port
from tests.fakes.dns import FakeDNS
from tests.fakes.smtp import FakeSMTP
from tests.redisdb import private_broker

PROFILES = ("small", "large")  # every story runs on both (the `appliance` fixture)
PORTS = ("HTTP", "SMTP", "SUBMISSION", "SMTPS", "IMAP", "IMAPS", "POP3", "POP3S", "MANAGESIEVE")
START_TIMEOUT = 120.0  # a shared CI machine under load takes ~20 s to start everything
STOP_TIMEOUT = 60.0
PROFILE_SETTINGS = ("MAILAPP_COMBINED_AGENTS", "MAILAPP_WEB_WORKERS", "MAILAPP_WEB_THREADS", "MAILAPP_CELERY_POOL",
                    "MAILAPP_CELERY_CONCURRENCY", "MAILAPP_EMBEDDED_BEAT", "MAILAPP_PRELOAD")
ADMIN = "admin"
ADMIN_PASSWORD = "e2e admin password 7"
ZONES = {
    "remote.test": {"MX": [(10, "mx1.remote.test")]},
    "mx1.remote.test": {"A": ["127.0.0.1"]},
}


def client_tls() -> ssl.SSLContext:
    """What a user does with a self-signed appliance: encrypt, do not verify."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def wait_for(predicate, timeout: float, what: str, every: float = 0.1):
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Appliance:
    """A running appliance: its ports, environment and log, plus a way to run its commands."""

    home: Path
    env: dict[str, str]
    ports: dict[str, int]
    log: Path
    mx: FakeSMTP
    dns: FakeDNS
    process: subprocess.Popen | None = None
    token: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['HTTP']}"

    def manage(self, *args: str, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess:
        """``manage.py <args>`` as an operator would run it next to the running appliance."""
        return subprocess.run(
            [PYTHON, MANAGE, *args], input=stdin, capture_output=True, timeout=60, cwd=REPO, env={**self.env, **env}
        )

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _copy_sqlite(source: str, target: Path) -> None:
    """A consistent copy of the test database (schema, migrations' rows) for the appliance alone."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _copy_postgres(db: dict, name: str) -> str:
    """A new database made from the test database as a template; its URL."""
    import psycopg

    base = dict(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"])
    url = f"postgres://{base['user']}:{base['password'] or ''}@{base['host']}:{base['port']}/{name}"
    connection.close()  # CREATE DATABASE … TEMPLATE needs the template free of sessions
    with psycopg.connect(dbname="postgres", autocommit=True, **base) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        for _ in range(25):
            try:
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{db["NAME"]}"')
                return url
            except psycopg.errors.ObjectInUse:  # another test's child still connected: a moment
                time.sleep(0.2)
        admin.execute(f'CREATE DATABASE "{name}"')  # still busy: an empty one, migrated (slower)
    env = agent_env(DATABASE_URL=url)
    migrated = subprocess.run([PYTHON, MANAGE, "migrate", "--noinput", "-v0"], cwd=REPO, env=env,
                              capture_output=True, timeout=300)
    assert migrated.returncode == 0, migrated.stderr.decode()[-3000:]
    return url


def _drop_postgres(db: dict, name: str) -> None:
    import psycopg

    base = dict(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"])
    with psycopg.connect(dbname="postgres", autocommit=True, **base) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=PROFILES)
def appliance(request, django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Appliance]:
    """The running appliance on each profile in turn (docs/scaling.md), for every story.

    Session-scoped and parametrized: pytest runs every story on the small profile, stops
    that appliance, then runs them all again on the large one, so one appliance runs at a
    time. Small: the supervisor forks web, one mail-agents process and a threaded Celery
    worker with beat on a thread. Large: a process per protocol, forking gunicorn and
    Celery workers, and beat apart."""
    profile = request.param
    with running_appliance(django_db_blocker, tmp_path_factory, name=f"e2e-{profile}", profile=profile) as app:
        yield app


@contextmanager
def running_appliance(
    django_db_blocker, tmp_path_factory, name: str = "e2e", profile: str = "small"
) -> Iterator[Appliance]:
    """Start ``manage.py appliance`` on ``MAILAPP_PROFILE=profile`` (docs/scaling.md) on fresh ports with a
    copy of the empty test database; stop it after (SIGTERM, exit 0)."""
    from agents.tls import ensure_certificate

    home = tmp_path_factory.mktemp(f"appliance-{profile}")
    ports = {name: free_port() for name in PORTS}
    extra = {f"MAILAPP_{name}_PORT": str(port) for name, port in ports.items()}
    db = dict(connection.settings_dict)
    pg_name = ""
    with django_db_blocker.unblock():
        if db["ENGINE"].endswith("sqlite3"):
            _copy_sqlite(str(db["NAME"]), home / "mailappliance.sqlite3")
            extra["MAILAPP_SQLITE_PATH"] = str(home / "mailappliance.sqlite3")
        else:
            pg_name = f"{db['NAME']}_{name}"[:63]
            extra["DATABASE_URL"] = _copy_postgres(db, pg_name)
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker.startswith("redis"):  # a Redis database of its own: no other test's worker takes its tasks
        extra["CELERY_BROKER_URL"] = private_broker(broker, str(home))
    hostname = "mx.e2e.test"
    ensure_certificate(home / "tls" / "cert.pem", home / "tls" / "key.pem", hostname)
    with FakeDNS(dict(ZONES)) as dns, FakeSMTP() as mx:
        env = agent_env(
            MAILAPP_HOME=str(home),
            MAILAPP_HOSTNAME=hostname,
            MAILAPP_BIND="127.0.0.1",
            MAILAPP_DEV_MODE="1",
            MAILAPP_DNS_SERVER=dns.address,
            MAILAPP_REMOTE_SMTP_PORT=str(mx.port),
            MAILAPP_SMTP_CLIENT_TIMEOUT="10",
            MAILAPP_CONFIG_REFRESH="0.5",  # the shipped default: §3's 2 seconds are measured with it
            MAILAPP_CACHE_PREFIX=f"{name}-{home.name}",
            MAILAPP_LOG_LEVEL="INFO",
            MAILAPP_PROFILE=profile,
            **extra,
        )
        env.pop("MAILAPP_CELERY_EAGER", None)
        for setting in PROFILE_SETTINGS:  # the profile alone decides the layout
            env.pop(setting, None)
        app = Appliance(home=home, env=env, ports=ports, log=home / "appliance.log", mx=mx, dns=dns)
        app.extra["profile"] = profile
        with open(app.log, "wb") as out:
            app.process = subprocess.Popen(
                [PYTHON, MANAGE, "appliance", "--no-prepare"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            for name, port in ports.items():
                while not answers(port):
                    assert app.process.poll() is None, f"the appliance exited:\n{app.log_tail()}"
                    assert time.monotonic() < deadline, f"port {name} ({port}) never answered:\n{app.log_tail()}"
                    time.sleep(0.2)
            app.extra["ready_after"] = START_TIMEOUT - (deadline - time.monotonic())
            yield app
        finally:
            code = _stop(app)
            if pg_name:
                with django_db_blocker.unblock():
                    _drop_postgres(db, pg_name)
    assert code == 0, f"the supervisor exited with {code} on SIGTERM:\n{app.log_tail()}"


def _stop(app: Appliance) -> int | None:
    assert app.process is not None
    if app.process.poll() is not None:
        return app.process.returncode
    app.process.send_signal(signal.SIGTERM)
    try:
        return app.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait()
        return None


def make_admin_token(app: Appliance) -> str:
    """A superuser and an API token made without a prompt, exactly as DESIGN.md §8 says."""
    made = app.manage(
        "createsuperuser", "--noinput", "--username", ADMIN, "--email", "admin@example.invalid",
        DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
    )
    assert made.returncode == 0, made.stderr.decode()
    token = app.manage("drf_create_token", ADMIN)
    assert token.returncode == 0, token.stderr.decode()
    found = re.search(r"token (\w+) for user", token.stdout.decode())
    assert found, token.stdout.decode()
    app.token = found.group(1)
    return app.token


@pytest.fixture(scope="session")
def admin_token(appliance) -> str:
    return appliance.token or make_admin_token(appliance)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed story shows the end of the appliance's log (what its processes said)."""
    outcome = yield
    report = outcome.get_result()
    funcargs = getattr(item, "funcargs", {})
    app = funcargs.get("appliance")
    if report.failed and isinstance(app, Appliance):
        report.sections.append(("appliance log (last lines)", app.log_tail(6000)))
