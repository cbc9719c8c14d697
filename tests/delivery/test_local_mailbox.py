"""Mail to a local mailbox lands in its Maildir and its index, once."""

from agents.models import QueueMessage, QueueRecipient
from agents.queue import spool

from .conftest import deliver_all, index_count, maildir_files, message, queue


def test_mail_to_a_mailbox_lands_in_its_inbox(example_com):
    qid = queue(message(), "carol@remote.test", ["alice@example.com"])
    assert deliver_all() == {qid: "done"}
    files = maildir_files("alice@example.com")
    assert len(files) == 1 and index_count("alice@example.com") == 1
    data = files[0].read_bytes()
    assert data.startswith(b"Return-Path: <carol@remote.test>\r\nDelivered-To: alice@example.com\r\n")
    assert QueueMessage.objects.get(queue_id=qid).state == "done"
    assert QueueRecipient.objects.get(message_id=qid).state == "delivered"
    assert not spool.exists(qid)


def test_running_a_delivery_twice_stores_once(example_com):
    qid = queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    QueueMessage.objects.filter(queue_id=qid).update(state="active")
    QueueRecipient.objects.filter(message_id=qid).update(state="pending")
    spool.write(qid, message())
    deliver_all()
    assert len(maildir_files("alice@example.com")) == 1


def test_unknown_local_user_bounces(example_com):
    qid = queue(message(), "carol@remote.test", ["nobody@example.com"])
    deliver_all()
    rcpt = QueueRecipient.objects.get(message_id=qid)
    assert rcpt.state == "bounced" and "User unknown" in rcpt.last_error
