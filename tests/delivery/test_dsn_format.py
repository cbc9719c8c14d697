"""DSN construction on its own: structure, hostile replies, the null sender."""

import datetime
import email
from email import policy

import pytest

from agents.delivery.dsn import RecipientStatus, build_dsn, status_from_reply

ARRIVAL = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)


def dsn(**kw):
    args = dict(hostname="mx.test", sender="a@b.test", queue_id="Q1", arrival=ARRIVAL, original=b"Subject: hi\n\nbody",
                recipients=[RecipientStatus("x@y.test", "failed", "5.1.1", "550 5.1.1 no such user")])
    args.update(kw)
    return build_dsn(**args)


def test_a_dsn_is_a_delivery_status_report():
    msg = email.message_from_bytes(dsn(), policy=policy.compat32)
    assert msg.get_content_type() == "multipart/report"
    assert [p.get_content_type() for p in msg.get_payload()] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"]
    assert msg["Auto-Submitted"] == "auto-replied"


def test_the_null_sender_never_gets_one():
    with pytest.raises(ValueError):
        dsn(sender="")


def test_a_hostile_remote_reply_cannot_inject_headers():
    raw = dsn(recipients=[RecipientStatus("x@y.test", "failed", "5.0.0", "550 no\r\nBcc: victim@evil.test\r\n\r\nx")])
    report = email.message_from_bytes(raw, policy=policy.compat32).get_payload()[1].get_payload()[1]
    assert "Bcc" not in report and "victim@evil.test" in report["Diagnostic-Code"]


def test_huge_original_headers_are_cut():
    raw = dsn(original=b"X-Big: " + b"a" * 500_000 + b"\r\n\r\nbody")
    assert len(raw) < 100_000


@pytest.mark.parametrize("code, text, expected", [
    (550, "5.1.1 no such user", "5.1.1"), (451, "try later", "4.0.0"), (550, "", "5.0.0"),
    (421, "9.9.9 nonsense", "4.0.0"), (250, "ok", "2.0.0"),
])
def test_status_codes_come_from_the_reply_or_its_class(code, text, expected):
    assert status_from_reply(code, text, "2.0.0") == expected


def test_an_encoded_newline_in_a_remote_reply_is_not_copied_into_the_report():
    raw = dsn(recipients=[RecipientStatus("x@y.test", "failed", "5.0.0", "550 =?UTF-8?Q?no=0ABcc:_victim@evil.test?=")])
    from mailcore.headersafe import is_unsafe

    report = email.message_from_bytes(raw, policy=policy.compat32).get_payload()[1].get_payload()[1]
    assert not any(is_unsafe(str(value)) for value in report.values())
    assert "victim" not in raw.decode()
