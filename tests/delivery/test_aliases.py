"""Aliases: lists, catch-alls, domain aliases, external forwards, discards and loops."""

from agents import config
from agents.models import QueueMessage, QueueRecipient
from webadmin import services
from webadmin.models import DomainAlias

from .conftest import deliver_all, index_count, maildir_files, message, queue


def test_an_alias_list_reaches_every_member(example_com):
    services.create_alias("team@example.com", ["alice@example.com", "bob@example.com"])
    config.invalidate()
    queue(message(), "carol@remote.test", ["team@example.com"])
    deliver_all()
    assert len(maildir_files("alice@example.com")) == 1 and index_count("alice@example.com") == 1
    assert len(maildir_files("bob@example.com")) == 1 and index_count("bob@example.com") == 1


def test_a_catch_all_takes_unknown_local_parts(example_com):
    services.create_alias("@example.com", ["bob@example.com"])
    config.invalidate()
    queue(message(), "carol@remote.test", ["whoever@example.com"])
    deliver_all()
    assert len(maildir_files("bob@example.com")) == 1 and index_count("bob@example.com") == 1
    assert b"Delivered-To: bob@example.com" in maildir_files("bob@example.com")[0].read_bytes()


def test_a_domain_alias_delivers_to_the_same_mailbox(example_com):
    DomainAlias.objects.create(name="example.org", target=example_com)
    config.invalidate()
    queue(message(), "carol@remote.test", ["alice@example.org"])
    deliver_all()
    assert len(maildir_files("alice@example.com")) == 1 and index_count("alice@example.com") == 1


def test_an_external_forward_is_relayed_to_the_remote_mx(example_com, mx):
    services.create_alias("out@example.com", ["dave@remote.test", "alice@example.com"])
    config.invalidate()
    qid = queue(message(), "carol@remote.test", ["out@example.com"])
    deliver_all()
    assert len(maildir_files("alice@example.com")) == 1 and index_count("alice@example.com") == 1
    assert mx.recipients_count() == {"dave@remote.test": 1}
    assert mx.messages[0].mail_from.startswith("SRS0=")  # SRS: the envelope sender is ours now
    assert config.srs_reverse(mx.messages[0].mail_from) == "carol@remote.test"
    assert b"Delivered-To: out@example.com" in mx.messages[0].data
    forward = QueueMessage.objects.get(parent=qid)
    assert forward.source == "forward" and forward.state == "done"


def test_a_mailbox_addressed_twice_is_stored_once(example_com):
    services.create_alias("team@example.com", ["alice@example.com", "bob@example.com"])
    config.invalidate()
    queue(message(), "carol@remote.test", ["alice@example.com", "team@example.com"])
    deliver_all()
    assert len(maildir_files("alice@example.com")) == 1
    assert len(maildir_files("bob@example.com")) == 1


def test_a_discard_alias_accepts_and_keeps_nothing(example_com):
    services.create_alias("null@example.com", [], discard=True)
    config.invalidate()
    qid = queue(message(), "carol@remote.test", ["null@example.com"])
    deliver_all()
    assert QueueRecipient.objects.get(message_id=qid).state == "discarded"
    assert QueueMessage.objects.get(queue_id=qid).state == "done"


def test_too_many_received_headers_bounce_as_a_loop(example_com, settings):
    settings.MAILAPP_MAX_HOPS = 3
    hops = "".join(f"Received: from hop{n}.test by hop{n+1}.test; Mon, 23 Nov 2026 10:00:00 +0000\r\n"
                   for n in range(4))
    qid = queue(message(extra=hops), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    rcpt = QueueRecipient.objects.get(message_id=qid)
    assert rcpt.state == "bounced" and "loop" in rcpt.last_error
    assert maildir_files("alice@example.com") == []
