"""The store's commit threads (``agents.store.commits``) open database connections in cluster mode
(the move guard asks PostgreSQL inside each mailbox's index transaction). A worker that has
delivered one batch and then sits idle must not keep them: once the threads idle they are closed,
and the next batch opens them again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from agents.delivery import runner
from agents.queue import Envelope, submit
from agents.store import commits
from tests.conftest import wait_until

from .nodes import needs_postgres

pytestmark = needs_postgres

BOXES = [f"user{n}@example.com" for n in range(6)]  # one batch spread over several commit threads


@pytest.fixture(autouse=True)
def _no_mail_from_other_tests():
    shutil.rmtree(Path(django_settings.MAILAPP_MAIL_ROOT) / "example.com", ignore_errors=True)
    yield
    shutil.rmtree(Path(django_settings.MAILAPP_MAIL_ROOT) / "example.com", ignore_errors=True)


def open_connections() -> set[int]:
    """Backends of this test's database other than the test's own connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return {pid for (pid,) in cursor.fetchall()}


def deliver_one_batch() -> None:
    raw = b"From: someone@remote.test\r\nSubject: to everyone\r\n\r\nhello\r\n"
    qid = submit(raw, Envelope(sender="someone@remote.test", recipients=BOXES), enqueue=False)
    assert runner.run(qid) == "done"


def test_commit_threads_close_their_database_connections_once_idle(transactional_db, make_mailbox, settings,
                                                                  monkeypatch):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "b"
    monkeypatch.setattr(commits, "IDLE_AFTER", 0.5)
    # Which backends the commit threads held is recorded by a hook of the test's that runs on each thread just
    # before the store's own closes them: reading pg_stat_activity after the batch raced the 0.5 s idle close
    # on a loaded machine (the connections were closed before the test looked, and it saw none).
    held: set[int] = set()

    def record() -> None:
        from django.db import connection as this_threads

        if this_threads.connection is not None:
            held.add(this_threads.connection.info.backend_pid)

    monkeypatch.setattr(commits, "_idle_hooks", [record, *commits._idle_hooks])
    for address in BOXES:
        make_mailbox(address, home_node="b")
    already = open_connections()  # another test's leftovers in this process, if any

    deliver_one_batch()
    wait_until(lambda: held and not (open_connections() - already),
               "the idle commit threads to close their connections", timeout=15, every=0.1)
    opened = set(held)
    assert opened, "the batch's commit threads opened no connection: the test shows nothing"

    held.clear()
    deliver_one_batch()  # a closed connection is opened again by the next batch
    wait_until(lambda: held and not (open_connections() - already),
               "the connections of the second batch to close", timeout=15, every=0.1)
    assert not held & opened, "the second batch used connections the idle threads should have closed"
