"""A queue row whose spool file is not whole is held, never delivered cut short.

Reception fsyncs the spool file while the queue rows commit and answers only when both
are durable (agents/queue/group.py); after a power cut between the two a row may name a
file the disk lost part of. That message was never acknowledged. Delivery compares the
file with the row's size and holds it for the operator instead of storing a fragment.
"""

from __future__ import annotations

import pytest

from agents.models import QueueEvent, QueueMessage
from agents.queue import spool

from .conftest import deliver_all, maildir_files, queue

pytestmark = pytest.mark.django_db(transaction=True)

# Larger than spool.INLINE_MAX: a small body is committed with its rows (no file to cut).
RAW = b"From: carol@remote.test\r\nSubject: whole\r\n\r\n" + b"line\r\n" * (spool.INLINE_MAX // 6 + 100)


def test_a_spool_file_cut_short_is_held_and_a_whole_one_delivered(example_com):
    cut = queue(RAW, "carol@remote.test", ["alice@example.com"])
    whole = queue(RAW, "carol@remote.test", ["bob@example.com"])
    spool.spool_path(cut).write_bytes(RAW[:100])  # what the disk kept of it

    deliver_all()
    held = QueueMessage.objects.get(queue_id=cut)
    assert held.state == QueueMessage.HELD
    assert held.last_error == f"spool file incomplete (100 of {len(RAW)} octets)"
    assert QueueEvent.objects.filter(message=held, event="held").exists()
    assert maildir_files("alice@example.com") == []
    assert QueueMessage.objects.get(queue_id=whole).state == QueueMessage.DONE
    assert [p.read_bytes().endswith(RAW.split(b"\r\n\r\n", 1)[1]) for p in maildir_files("bob@example.com")] == [True]
