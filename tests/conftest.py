"""Fixtures shared by every layer's tests.

Protocol and client tests run real servers on loopback; processes they start
(agents, workers) get ``agent_env()`` so they use this test run's database and
MAILAPP_HOME.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from agents import config, metrics
from agents.delivery import connections
from tests.ports import free_port  # noqa: F401  (re-exported: tests import it from here)
from webadmin import services
from webadmin.models import Domain, Mailbox

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session", autouse=True)
def _collect_finished_threads_connections(django_db_setup):
    """Before pytest-django drops the test database, let the garbage collector close the
    connections that threads of in-process servers left behind (Django never closes a
    thread's connection when the thread ends), so PostgreSQL sees no session still using it."""
    yield
    import gc

    gc.collect()


def agent_env(**extra: str) -> dict[str, str]:
    """Environment for a child process (agent, worker, CLI) of this test run.

    It points the child at the test database (not the one its settings would
    name) and this run's MAILAPP_HOME.
    """
    env = dict(os.environ)
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["MAILAPP_SQLITE_PATH"] = str(db["NAME"])
    else:
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    env["MAILAPP_HOME"] = str(settings.MAILAPP_HOME)
    env["PYTHONPATH"] = str(REPO)
    env["DJANGO_SETTINGS_MODULE"] = "mailappliance.settings"
    env.update(extra)
    return env


def wait_until(predicate: Callable[[], object], what: str, timeout: float = 30, every: float = 0.02) -> None:
    """Return as soon as ``predicate()`` is true; fail after ``timeout`` seconds.

    The timeout is a generous bound for a busy machine, never a measure: a
    correct program passes however fast or slow it is.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(every)


def read_until_closed(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the peer sends until it closes the connection (a reset counts as closed).

    The socket's own timeout bounds the wait: a peer that keeps the connection
    open makes this raise ``TimeoutError``, so the caller's assertion fails.
    """
    received = b""
    while len(received) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


def clear_cache() -> None:
    """Empty this test process's Django cache, and no one else's.

    Django's ``RedisCache.clear()`` is ``FLUSHDB``: in the PostgreSQL pass it would also empty the
    other xdist worker's cache entries and every task waiting in the shared broker database (both
    live in Redis database 0). Each test process has a key prefix of its own
    (``mailappliance/test_settings.py``), so on Redis only the keys under it are deleted."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]  # the backend itself (django.core.cache.cache is a proxy)
    if not isinstance(cache, RedisCache):
        cache.clear()  # the file-based cache lives under this process's MAILAPP_HOME
        return
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{settings.MAILAPP_CACHE_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)


PYTHON = sys.executable
MANAGE = str(REPO / "manage.py")


def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadfile``, tests/e2e counts as one file: its modules share one running appliance."""
    if config.getoption("dist", None) != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "tests/e2e" if nodeid.startswith("tests/e2e/") else super()._split_scope(nodeid)

    return Scheduling(config, log)


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    config.invalidate()
    yield
    config.invalidate()


@pytest.fixture(autouse=True)
def _no_metric_counts_from_earlier_tests():
    """Counter increments wait up to a second in memory (agents.metrics.FLUSH_DELAY) when their thread is
    outside a transaction, as an in-process server's threads are: an earlier test's must not be written
    into this test's database, where the next flush (any increment inside a transaction flushes them
    all) would add them to the counts this test asserts."""
    with metrics._lock:
        metrics._pending.clear()
        if metrics._timer is not None:
            metrics._timer.cancel()
            metrics._timer = None
    yield


@pytest.fixture(autouse=True)
def _no_smtp_connection_kept_across_tests():
    """Remote delivery keeps idle SMTP connections per process: close them when the test's MX goes."""
    yield
    connections.cache.clear()


@pytest.fixture
def make_domain(db) -> Callable[..., Domain]:
    def make(name: str = "example.com", postmaster: str | None = None, **fields: object) -> Domain:
        return services.create_domain(name, postmaster or f"admin@{name}", **fields).domain

    return make


@pytest.fixture
def make_mailbox(db) -> Callable[..., Mailbox]:
    def make(address: str, password: str = PASSWORD, **fields: object) -> Mailbox:
        domain_name = address.rpartition("@")[2]
        if not Domain.objects.filter(name=domain_name).exists():
            services.create_domain(domain_name, f"admin@{domain_name}")
        return services.create_mailbox(address, password, **fields)

    return make


@pytest.fixture
def example_com(make_domain, make_mailbox) -> Domain:
    """example.com with mailboxes alice@ and bob@ (password PASSWORD) and admin@ (postmaster).

    Its mail starts empty too: the database is new for each test, and so is the domain, whose
    mailboxes must not find an earlier test's messages (removal would have moved them aside)."""
    import shutil

    shutil.rmtree(Path(settings.MAILAPP_MAIL_ROOT) / "example.com", ignore_errors=True)
    domain = make_domain("example.com")
    make_mailbox("alice@example.com", name="Alice Example")
    make_mailbox("bob@example.com", name="Bob Example")
    return domain


from tests.browser import chromium, page  # noqa: E402,F401  (Playwright fixtures for web tests)
