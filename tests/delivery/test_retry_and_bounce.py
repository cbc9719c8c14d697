"""Unreachable hosts: retried on the backoff schedule, then bounced with an RFC 3464 DSN."""

import email
from email import policy

import pytest
from django.utils import timezone

from agents.delivery.backoff import retry_delay
from agents.models import QueueEvent, QueueMessage, QueueRecipient
from agents.queue import spool

from .conftest import age, deliver_all, make_due, message, queue

pytestmark = pytest.mark.django_db

UNREACHABLE = {"MX": [(10, "mx.dead.test")]}


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.compat32)


def test_an_unreachable_host_is_retried_on_the_backoff_schedule_then_bounced(dns_server, settings, mx):
    settings.MAILAPP_RETRY_MIN, settings.MAILAPP_RETRY_MAX = 300, 1200
    dns_server.zones["dead.test"] = UNREACHABLE
    dns_server.zones["mx.dead.test"] = {"A": ["127.0.0.2"]}  # nothing listens: connection refused
    qid = queue(message(subject="Lost"), "alice@remote.test", ["dave@dead.test"], originals={
        "dave@dead.test": "Dave@dead.test"})
    delays = []
    for _ in range(4):
        before = timezone.now()
        assert deliver_all() == {qid: "deferred 1"}
        row = QueueMessage.objects.get(queue_id=qid)
        delays.append(round((row.next_attempt - before).total_seconds() / 60))
        make_due(qid)
    assert delays == [5, 10, 20, 20], "300 s doubling, capped at 1200 s"
    assert "connect to mx.dead.test" in row.last_error
    age(qid, days=6)  # past MAILAPP_QUEUE_MAX_AGE (5 days)
    assert deliver_all()[qid] == "done"
    assert QueueRecipient.objects.get(message_id=qid).state == "bounced"
    assert not spool.exists(qid)
    bounce = QueueMessage.objects.get(parent=qid, source="bounce")
    assert bounce.sender == ""
    dsn = parse(mx.messages[-1].data)
    assert mx.messages[-1].mail_from == "<>" or mx.messages[-1].mail_from == ""
    assert mx.messages[-1].rcpt_tos == ["alice@remote.test"]
    assert dsn.get_content_type() == "multipart/report" and dsn.get_param("report-type") == "delivery-status"
    assert dsn["From"].startswith("Mail Delivery System <MAILER-DAEMON@mx.test.example>")
    human, status, headers = dsn.get_payload()
    assert status.get_content_type() == "message/delivery-status"
    fields = status.get_payload()[1]  # the per-recipient block
    assert fields["Final-Recipient"] == "rfc822; dave@dead.test"
    assert fields["Original-Recipient"] == "rfc822; Dave@dead.test"
    assert fields["Action"] == "failed" and fields["Status"] == "4.4.7"
    assert headers.get_content_type() == "text/rfc822-headers"
    assert "Subject: Lost" in headers.get_payload()


def test_retry_delay_doubles_and_caps():
    assert [retry_delay(n, 300, 4 * 3600) for n in (1, 2, 3, 6, 7, 100)] == [300, 600, 1200, 9600, 14400, 14400]


def test_null_mx_bounces_at_once(dns_server, mx):
    dns_server.zones["nomail.test"] = {"MX": [(0, ".")]}
    qid = queue(message(), "alice@remote.test", ["x@nomail.test"])
    deliver_all()
    rcpt = QueueRecipient.objects.get(message_id=qid)
    assert rcpt.state == "bounced" and "null MX" in rcpt.last_error
    dsn = parse(mx.messages[-1].data)
    assert dsn.get_payload()[1].get_payload()[1]["Status"] == "5.1.10"


def test_a_nonexistent_domain_bounces_at_once(dns_server, mx):
    qid = queue(message(), "alice@remote.test", ["x@no-such-domain.test"])
    deliver_all()
    assert QueueRecipient.objects.get(message_id=qid).state == "bounced"


def test_a_dns_failure_is_temporary(dns_server, mx):
    dns_server.zones["broken.test"] = "SERVFAIL"
    qid = queue(message(), "alice@remote.test", ["x@broken.test"])
    deliver_all()
    assert QueueRecipient.objects.get(message_id=qid).state == "deferred"


def test_a_dsn_is_never_sent_to_the_null_sender(dns_server, mx):
    mx.set_replies("nobody@remote.test", ["550 5.1.1 no such user"])
    qid = queue(message(), "", ["nobody@remote.test"])
    deliver_all()
    assert QueueRecipient.objects.get(message_id=qid).state == "bounced"
    assert not QueueMessage.objects.filter(parent=qid).exists()
    assert QueueEvent.objects.filter(message_id=qid, event="no-bounce").exists()
    assert mx.messages == []


def test_a_bounce_that_bounces_goes_nowhere(dns_server, mx):
    mx.set_replies("gone@remote.test", ["550 5.1.1 gone"])
    qid = queue(message(), "gone@remote.test", ["nobody@example.com"])  # unknown local user → bounce
    deliver_all()
    bounce = QueueMessage.objects.get(parent=qid)
    assert bounce.recipients.get().state == "bounced"
    assert not QueueMessage.objects.filter(parent=bounce.queue_id).exists()


def test_a_delay_warning_goes_out_once_after_four_hours(dns_server, mx, settings):
    dns_server.zones["dead.test"] = UNREACHABLE
    dns_server.zones["mx.dead.test"] = {"A": ["127.0.0.2"]}
    qid = queue(message(subject="Slow"), "alice@remote.test", ["dave@dead.test"])
    deliver_all()
    age(qid, hours=5)
    deliver_all()
    make_due(qid)
    deliver_all()
    warnings = [m for m in mx.messages if b"Delayed Mail" in m.data]
    assert len(warnings) == 1 and warnings[0].rcpt_tos == ["alice@remote.test"]
    assert b"Action: delayed" in warnings[0].data
    assert QueueMessage.objects.get(queue_id=qid).state == "active"


def test_the_delay_warning_timing_uses_the_setting(dns_server, mx, settings):
    settings.MAILAPP_DELAY_WARNING_AFTER = 3600 * 24
    dns_server.zones["dead.test"] = UNREACHABLE
    dns_server.zones["mx.dead.test"] = {"A": ["127.0.0.2"]}
    qid = queue(message(), "alice@remote.test", ["dave@dead.test"])
    age(qid, hours=5)
    deliver_all()
    assert not QueueMessage.objects.filter(parent=qid).exists(), "5 hours is less than the day this test set"
