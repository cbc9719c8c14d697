"""Auto-replies under RFC 3834: when they go, when they never go, and only once per sender."""

import datetime

import pytest
from django.utils import timezone

from agents import config
from agents.models import AutoReplySent, QueueMessage
from webadmin.models import Filter, Mailbox

from .conftest import deliver_all, message, queue

VACATION = {"action": "autoreply", "subject": "Away", "body": "I am away until Monday.", "days": 3}


@pytest.fixture
def vacation(example_com):
    mailbox = Mailbox.objects.get(local_part="alice", domain__name="example.com")
    Filter.objects.create(mailbox=mailbox, name="vacation", actions=[VACATION])
    config.invalidate()


def replies(mx):
    return [m for m in mx.messages if b"Auto-Submitted: auto-replied" in m.data and b"Away" in m.data]


def test_an_auto_reply_goes_to_the_sender_from_the_null_sender(vacation, mx):
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    [reply] = replies(mx)
    assert reply.rcpt_tos == ["carol@remote.test"] and reply.mail_from in ("", "<>")
    assert b"From: <alice@example.com>" in reply.data and b"In-Reply-To: <Hello@test>" in reply.data


def test_only_one_auto_reply_per_sender_within_the_days(vacation, mx):
    queue(message(subject="One"), "carol@remote.test", ["alice@example.com"])
    queue(message(subject="Two"), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert len(replies(mx)) == 1
    AutoReplySent.objects.update(sent=timezone.now() - datetime.timedelta(days=4))
    queue(message(subject="Three"), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert len(replies(mx)) == 2, "after 3 days the sender hears it again"


@pytest.mark.parametrize("sender, extra", [
    ("", ""),
    ("carol@remote.test", "Auto-Submitted: auto-generated\r\n"),
    ("carol@remote.test", "Precedence: bulk\r\n"),
    ("carol@remote.test", "Precedence: list\r\n"),
    ("carol@remote.test", "Precedence: junk\r\n"),
    ("carol@remote.test", "List-Id: <dev.lists.remote.test>\r\n"),
    ("carol@remote.test", "List-Unsubscribe: <mailto:leave@remote.test>\r\n"),
    ("MAILER-DAEMON@remote.test", ""),
    ("dev-request@remote.test", ""),
])
def test_no_auto_reply_to_lists_robots_or_the_null_sender(vacation, mx, sender, extra):
    qid = queue(message(extra=extra), sender, ["alice@example.com"])
    deliver_all()
    assert replies(mx) == []
    assert not QueueMessage.objects.filter(parent=qid, source="autoreply").exists()


def test_a_retried_delivery_does_not_send_the_reply_twice(vacation, mx):
    qid = queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    AutoReplySent.objects.all().delete()  # even with the memory gone, the derived queue id holds
    QueueMessage.objects.filter(queue_id=qid).update(state="active")
    QueueMessage.objects.get(queue_id=qid).recipients.update(state="pending")
    from agents.queue import spool
    spool.write(qid, message())
    deliver_all()
    assert len(replies(mx)) == 1


def test_a_hostile_subject_or_message_id_cannot_add_headers():
    from agents.delivery.autoreply import build_reply
    from agents.delivery.message import parse

    original = parse(b"Subject: hi\r\nMessage-ID: <a@b>\r\n\tBcc: victim@evil.test\r\n\r\nbody")
    raw = build_reply(mailbox="alice@example.com", sender="carol@remote.test", message=original,
                      subject="Away\r\nBcc: victim@evil.test", body="Gone fishing.\nBack soon.", hostname="mx.test")
    head = raw.split(b"\r\n\r\n")[0]
    assert not any(line.lower().startswith(b"bcc:") for line in head.split(b"\r\n"))
    assert b"In-Reply-To: <a@b>\r\n" in head and raw.endswith(b"Gone fishing.\r\nBack soon.\r\n")


def test_a_unicode_subject_is_encoded():
    from agents.delivery.autoreply import build_reply
    from agents.delivery.message import parse

    raw = build_reply(mailbox="alice@example.com", sender="carol@remote.test", message=parse(b"\r\n"),
                      subject="Abwesend — zurück am Montag", body="Bin weg.", hostname="mx.test")
    assert raw.split(b"\r\n\r\n")[0].isascii()


@pytest.mark.parametrize(
    "subject", ["=?UTF-8?Q?x=0ABcc:_victim@evil.test?=", "=?UTF-8?B?eApCY2M6IHZpY3RpbUBldmlsLnRlc3Q=?="]
)
def test_an_encoded_newline_in_a_subject_never_reaches_the_reply(subject):
    """Neither the user's own vacation subject nor the original's (quoted in "Auto: …")
    may carry an encoded word that decodes to a line break: the reply falls back."""
    from agents.delivery.autoreply import build_reply
    from agents.delivery.message import parse
    from mailcore.headersafe import is_unsafe

    for own, original in ((subject, b"Subject: hi\r\n\r\n"), ("", b"Subject: " + subject.encode() + b"\r\n\r\n")):
        raw = build_reply(mailbox="alice@example.com", sender="carol@remote.test", message=parse(original),
                          subject=own, body="Away.", hostname="mx.test")
        head = raw.split(b"\r\n\r\n")[0].decode()
        lines = head.split("\r\n")
        assert not any(line.lower().startswith("bcc:") or is_unsafe(line) for line in lines)
    assert "Subject: Automatic reply" in build_reply(
        mailbox="alice@example.com", sender="carol@remote.test", message=parse(b"Subject: hi\r\n\r\n"),
        subject=subject, body="Away.", hostname="mx.test").decode()
