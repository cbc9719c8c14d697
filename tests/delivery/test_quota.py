"""Over quota: deferred while the mailbox is full, bounced once the message is too old."""

from agents.models import QueueMessage, QueueRecipient
from webadmin.models import Mailbox

from .conftest import age, deliver_all, maildir_files, message, queue


def test_a_full_mailbox_defers_then_bounces(example_com, mx):
    Mailbox.objects.filter(local_part="alice").update(quota=50)
    from agents import config
    config.invalidate()
    qid = queue(message(body="x" * 200), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    rcpt = QueueRecipient.objects.get(message_id=qid)
    assert rcpt.state == "deferred" and "larger than the 50 B left in the mailbox" in rcpt.last_error
    age(qid, days=6)
    deliver_all()
    assert QueueRecipient.objects.get(message_id=qid).state == "bounced"
    assert maildir_files("alice@example.com") == []
    assert QueueMessage.objects.filter(parent=qid, source="bounce").exists()
