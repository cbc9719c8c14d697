"""Spool files made ahead: durable empty files, taken once, removed on a clean stop."""

from __future__ import annotations

import time

from agents.models import QueueMessage, SpooledBody
from agents.queue import Envelope, spool
from agents.queue.group import GroupCommit
from agents.queue.reserve import Reservoir
from tests.conftest import wait_until


def ready(reservoir: Reservoir) -> str:
    deadline = time.monotonic() + 30  # the reservoir's thread makes and fsyncs the file: slow on a loaded disk
    while time.monotonic() < deadline:
        queue_id = reservoir.take()
        if queue_id:
            return queue_id
        time.sleep(0.01)
    raise AssertionError("no reservation was made")


def test_a_reserved_id_has_an_empty_file_and_is_claimed_once(db):
    reservoir = Reservoir(size=4)
    try:
        queue_id = ready(reservoir)
        assert spool.spool_path(queue_id).stat().st_size == 0
        assert reservoir.claim(queue_id) and not reservoir.claim(queue_id)
    finally:
        reservoir.close()


BIG = b"Subject: r\r\n\r\n" + (b"x" * 78 + b"\r\n") * (spool.INLINE_MAX // 80 + 1)  # over the inline limit
SMALL = b"Subject: r\r\n\r\nx\r\n"


def test_a_reserved_file_receives_a_large_message(transactional_db):
    reservoir = Reservoir(size=2)
    try:
        queue_id = ready(reservoir)
        envelope = Envelope(sender="a@remote.test", recipients=["b@example.com"])
        GroupCommit(enqueue=False).submit(BIG, envelope, queue_id, fresh_id=True, reserved=reservoir.claim(queue_id))
        assert spool.spool_path(queue_id).read_bytes() == BIG
        assert QueueMessage.objects.filter(queue_id=queue_id).exists()
    finally:
        reservoir.close()


def test_a_small_message_goes_with_its_rows_and_its_reservation_is_given_back(transactional_db):
    """A small body is committed with the queue rows (one flush, the database's), on SQLite and on
    PostgreSQL alike: no file, and its reserved file is given back."""
    reservoir = Reservoir(size=2)
    try:
        queue_id = ready(reservoir)
        envelope = Envelope(sender="a@remote.test", recipients=["b@example.com"])
        GroupCommit(enqueue=False).submit(SMALL, envelope, queue_id, fresh_id=True, reserved=reservoir.claim(queue_id))
        assert not spool.spool_path(queue_id).exists()
        assert bytes(SpooledBody.objects.get(message_id=queue_id).data) == SMALL
        assert spool.read(queue_id) == SMALL and spool.exists(queue_id)
        assert spool.read_many([queue_id, "nosuchid"]) == {queue_id: SMALL}
    finally:
        reservoir.close()


def empty_spool_files() -> set[str]:
    return {p.name for p in spool.spool_root().rglob("*") if p.is_file() and p.stat().st_size == 0}


def test_close_removes_what_nobody_took(db):
    before = empty_spool_files()
    reservoir = Reservoir(size=3)
    taken = ready(reservoir)
    wait_until(lambda: len(empty_spool_files() - before) > 1, "a reservation nobody took")
    reservoir.close()
    assert empty_spool_files() - before == {taken}
    spool.spool_path(taken).unlink()


def test_a_message_whose_rows_cannot_be_committed_is_not_accepted(transactional_db):
    import pytest
    from django.db import IntegrityError

    broken = Envelope(sender=None, recipients=["b@example.com"])  # type: ignore[arg-type]  # NOT NULL column
    with pytest.raises(IntegrityError):
        GroupCommit(enqueue=False).submit(b"Subject: x\r\n\r\nx\r\n", broken)
    assert not QueueMessage.objects.exists()
