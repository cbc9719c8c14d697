"""Forwards and auto-replies go through the one submission policy (agents.queue.submission)."""

from agents import config
from agents.models import AccountHold, QueueMessage, QueueRecipient, Refusal
from webadmin import services
from webadmin.models import Filter, Mailbox

from .conftest import deliver_all, message, queue


def test_a_forward_over_the_size_limit_bounces_with_the_smtp_reply(example_com, settings):
    services.create_alias("out@example.com", ["dave@remote.test"])
    config.invalidate()
    qid = queue(message(), "carol@remote.test", ["out@example.com"])
    settings.MAILAPP_MAX_MESSAGE_SIZE = 10  # lowered after it was accepted: the forward is too big
    deliver_all()
    row = QueueRecipient.objects.get(message_id=qid)
    assert row.state == "bounced" and "552 5.3.4 Error: message file too big" in row.last_error
    assert not QueueMessage.objects.filter(source="forward").exists()
    refused = Refusal.objects.get()
    assert (refused.source, refused.rule, refused.recipient) == ("forward", "message-size", "dave@remote.test")


def test_a_suspended_account_sends_no_auto_reply(example_com):
    mailbox = Mailbox.objects.get(local_part="alice", domain__name="example.com")
    Filter.objects.create(mailbox=mailbox, name="vacation",
                          actions=[{"action": "autoreply", "subject": "Away", "body": "Back Monday."}])
    config.invalidate()
    AccountHold.objects.create(account="alice@example.com", domain="example.com", trigger="recipients")
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert QueueRecipient.objects.get(address="alice@example.com").state == "delivered"
    assert not QueueMessage.objects.filter(source="autoreply").exists()
    assert Refusal.objects.get().rule == "account-guard"
