"""A message larger than the space left says so, with sizes a person reads (not just "Mailbox full")."""

from agents import config
from agents.models import QueueMessage, QueueRecipient
from agents.queue import spool
from agents.store import default_store
from mailcore.quota import human_size, shortfall
from webadmin.models import Mailbox

from .conftest import age, deliver_all, message, queue


def fill(address: str, size: int) -> None:
    default_store().mailbox(address).deliver(b"Subject: old\r\n\r\n" + b"x" * (size - 18) + b"\r\n")


def test_a_9_kib_message_to_a_mailbox_with_2_4_kib_left(example_com, mx):
    Mailbox.objects.filter(local_part="alice").update(quota=4000)  # 3.9 KiB
    config.invalidate()
    fill("alice@example.com", 1500)
    raw = message(body="y" * 9000)
    qid = queue(raw, "carol@remote.test", ["alice@example.com"])
    deliver_all()
    rcpt = QueueRecipient.objects.get(message_id=qid)
    size = len(spool.read(qid))
    assert rcpt.state == "deferred"
    assert rcpt.last_error.endswith(
        f"<alice@example.com>: Message of {human_size(size)} is larger than the 2.4 KiB left in the mailbox "
        "(quota 3.9 KiB)")

    age(qid, days=6)
    deliver_all()
    assert QueueMessage.objects.filter(parent=qid, source="bounce").exists()
    bounces = [m.data.replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ") for m in mx.messages
               if m.mail_from in ("", "<>")]
    assert len(bounces) == 1 and b"is larger than the 2.4 KiB left in the mailbox" in bounces[0]


def test_a_full_mailbox_says_full(example_com, mx):
    Mailbox.objects.filter(local_part="alice").update(quota=1000)
    config.invalidate()
    fill("alice@example.com", 1200)
    qid = queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert "Mailbox full (1.2 KiB of 1000 B used)" in QueueRecipient.objects.get(message_id=qid).last_error


def test_sizes_in_human_units():
    assert [human_size(n) for n in (0, 1023, 1536, 9 * 1024 * 1024, 3 * 1024 ** 3)] == [
        "0 B", "1023 B", "1.5 KiB", "9.0 MiB", "3.0 GiB"]
    assert shortfall(100, 0, 10**9) is None  # no quota
    assert shortfall(100, 1000, 900) is None  # fits exactly
    assert shortfall(100, 1000, 901).left == 900
