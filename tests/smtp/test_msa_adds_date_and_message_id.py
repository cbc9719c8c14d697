"""As the MSA (587/465, or an authenticated client), add a missing Date and Message-ID (RFC 6409 §8),
as Postfix's cleanup does; mail arriving at the MX passes as it came."""

from __future__ import annotations

import email.utils
from email import message_from_bytes

from agents.models import QueueMessage
from agents.queue import spool
from agents.smtp import content
from tests.conftest import PASSWORD

BARE = b"From: alice@example.com\r\nTo: dave@elsewhere.test\r\nSubject: no date, no id\r\n\r\nHello.\r\n"
COMPLETE = (b"From: alice@example.com\r\nTo: dave@elsewhere.test\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <mine@client.test>\r\nSubject: complete\r\n\r\nHello.\r\n")


def queued() -> tuple[QueueMessage, bytes]:
    row = QueueMessage.objects.get()
    return row, spool.read(row.queue_id)


def test_submission_adds_both(agent):
    with agent.smtp(agent.submission) as client:
        client.starttls(context=agent.client_context())
        client.login("alice@example.com", PASSWORD)
        client.sendmail("alice@example.com", ["dave@elsewhere.test"], BARE)
    row, raw = queued()
    parsed = message_from_bytes(raw)
    assert parsed["Message-ID"].endswith(f".{row.queue_id}@{agent.server.config.options.hostname}>")
    assert email.utils.parsedate_to_datetime(parsed["Date"]) is not None
    assert row.message_id == parsed["Message-ID"]  # the queue listing shows the added one
    head, _, body = raw.partition(b"\r\n\r\n")
    assert body == b"Hello.\r\n" and head.count(b"\r\nDate: ") == 1


def test_smtps_adds_both(agent):
    with agent.smtps() as client:
        client.login("alice@example.com", PASSWORD)
        client.sendmail("alice@example.com", ["dave@elsewhere.test"], BARE)
    _row, raw = queued()
    assert b"\r\nMessage-ID: <" in raw and b"\r\nDate: " in raw


def test_a_complete_message_is_left_as_it_is(agent):
    with agent.smtps() as client:
        client.login("alice@example.com", PASSWORD)
        client.sendmail("alice@example.com", ["dave@elsewhere.test"], COMPLETE)
    _row, raw = queued()
    assert raw.endswith(COMPLETE)


def test_mx_mail_is_left_alone(agent):
    with agent.smtp() as client:
        client.sendmail("carol@remote.test", ["alice@example.com"], BARE)
    _row, raw = queued()
    assert raw.endswith(BARE)
    assert b"Message-ID" not in raw and b"\r\nDate:" not in raw


def test_only_the_missing_field_is_added():
    only_date = b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nSubject: s\r\n\r\nbody\r\n"
    out = content.add_missing_msa_fields(only_date, hostname="mx.example", queue_id="Q1")
    assert out.count(b"Date:") == 1 and b"@mx.example>\r\n\r\nbody\r\n" in out
    assert content.add_missing_msa_fields(b"\r\nbody only\r\n", hostname="h.example", queue_id="Q2").startswith(
        b"Date: ")
