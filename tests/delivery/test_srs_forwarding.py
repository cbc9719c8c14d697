"""SRS for forwards: an alias to an outside address rewrites the envelope sender into our
domain (SPF passes for it at the next hop), a bounce to that address comes back to the
original sender, and a forged or expired SRS address is refused at RCPT."""

from __future__ import annotations

import os
import smtplib
import stat
import time

import pytest
from django.conf import settings

from agents import config
from agents.mailauth import spf
from agents.models import QueueMessage
from mailcore import srs
from tests.smtp.conftest import smtp_agent  # noqa: F401  (the real smtp agent on loopback)
from webadmin import services

from .conftest import deliver_all, message, queue

OUR_SPF = "v=spf1 ip4:127.0.0.1 -all"  # our outgoing address, published for example.com


@pytest.fixture
def forwarding(settings, dns_server, mx, example_com, tmp_path):
    settings.MAILAPP_SRS_SECRETS_FILE = tmp_path / "srs_secrets"
    dns_server.zones["example.com"] = {"TXT": [OUR_SPF]}
    dns_server.zones["orig.test"] = {"MX": [(10, "mx1.remote.test")], "TXT": ["v=spf1 ip4:192.0.2.1 -all"]}
    services.create_alias("out@example.com", ["dave@remote.test"])
    config.invalidate()
    return mx


def _spf(sender: str) -> str:
    """SPF as the next hop sees it, asking the DNS server on loopback that holds our record."""
    return spf.check("127.0.0.1", sender, "mail.example.com").result


def test_a_forward_leaves_with_an_srs_sender_that_passes_spf(forwarding, dns_server):
    assert _spf("alice@orig.test") == "fail", "the original sender's SPF does not allow us"
    queue(message(sender="alice@orig.test", to="out@example.com"), "alice@orig.test", ["out@example.com"])
    deliver_all()
    (arrived,) = forwarding.messages
    assert arrived.rcpt_tos == ["dave@remote.test"]
    assert arrived.mail_from.startswith("SRS0=") and arrived.mail_from.endswith("=orig.test=alice@example.com")
    assert _spf(arrived.mail_from) == "pass"
    assert config.srs_reverse(arrived.mail_from) == "alice@orig.test"


def test_the_secret_file_is_private(forwarding):
    config.srs_forward("alice@orig.test", "out@example.com")
    mode = stat.S_IMODE(os.stat(settings.MAILAPP_SRS_SECRETS_FILE).st_mode)
    assert mode == 0o600


def test_a_bounce_to_the_srs_address_reaches_the_original_sender(forwarding, smtp_agent):  # noqa: F811
    queue(message(sender="alice@orig.test", to="out@example.com"), "alice@orig.test", ["out@example.com"])
    deliver_all()
    srs_sender = forwarding.messages[0].mail_from
    agent = smtp_agent()
    dsn = (f"From: MAILER-DAEMON@remote.test\r\nTo: {srs_sender}\r\nSubject: Undelivered Mail\r\n"
           "Message-ID: <dsn1@remote.test>\r\n\r\nThe mail to dave@remote.test could not be delivered.\r\n")
    with smtplib.SMTP(agent.host, agent.mx, timeout=10) as client:
        client.ehlo("mx1.remote.test")
        client.sendmail("", [srs_sender], dsn.encode())
    deliver_all()
    back = [m for m in forwarding.messages if m.rcpt_tos == ["alice@orig.test"]]
    assert len(back) == 1 and back[0].mail_from in ("", "<>") and b"could not be delivered" in back[0].data


def test_an_srs1_address_from_a_second_forwarder_is_reversed_too(forwarding):
    ours = config.srs_forward("alice@orig.test", "out@example.com")
    srs1 = config.srs_rewriter().forward(ours, "example.com")
    assert srs1.startswith("SRS1=")
    assert config.expand(srs1).external == ["alice@orig.test"]


def test_forged_and_expired_srs_addresses_get_550_at_rcpt(forwarding, smtp_agent):  # noqa: F811
    good = config.srs_forward("alice@orig.test", "out@example.com")
    forged = good.replace("SRS0=", "SRS0=x", 1)
    keys = srs.read_secrets(settings.MAILAPP_SRS_SECRETS_FILE)
    month_ago = time.time() - 30 * 86400  # past the 21 days a bounce may take
    old = srs.Rewriter(keys, clock=lambda: month_ago).forward("alice@orig.test", "example.com")
    other_key = srs.Rewriter(["not our secret"]).forward("alice@orig.test", "example.com")
    agent = smtp_agent()
    with smtplib.SMTP(agent.host, agent.mx, timeout=10) as client:
        client.ehlo("mx1.remote.test")
        client.mail("")
        assert client.rcpt(good)[0] == 250
        for bad in (forged, old, other_key):
            code, text = client.rcpt(bad)
            assert code == 550 and b"SRS" in text, (bad, code, text)


def test_a_rotated_secret_still_reverses_older_addresses(forwarding):
    before = config.srs_forward("alice@orig.test", "out@example.com")
    srs.rotate(settings.MAILAPP_SRS_SECRETS_FILE)
    after = config.srs_forward("alice@orig.test", "out@example.com")
    assert before != after
    assert config.srs_reverse(before) == config.srs_reverse(after) == "alice@orig.test"
    srs.rotate(settings.MAILAPP_SRS_SECRETS_FILE, keep=0)  # drop every old secret
    with pytest.raises(srs.SRSError):
        config.srs_reverse(before)


def test_a_local_sender_is_not_rewritten(forwarding):
    queue(message(sender="bob@example.com", to="out@example.com"), "bob@example.com", ["out@example.com"])
    deliver_all()
    assert [m.mail_from for m in forwarding.messages] == ["bob@example.com"]
    assert QueueMessage.objects.filter(source="forward").get().sender == "bob@example.com"


def test_the_rotate_command_adds_a_secret_and_keeps_the_old_ones(forwarding):
    from django.core.management import call_command

    before = config.srs_forward("alice@orig.test", "out@example.com")
    call_command("srs", "rotate")
    keys = srs.read_secrets(settings.MAILAPP_SRS_SECRETS_FILE)
    assert len(keys) == 2
    assert config.srs_reverse(before) == "alice@orig.test"
    call_command("srs", "rotate", "--keep", "0")
    assert len(srs.read_secrets(settings.MAILAPP_SRS_SECRETS_FILE)) == 1


def test_the_first_start_makes_the_secret(settings, tmp_path):
    from agents.firststart import prepare

    settings.MAILAPP_SRS_SECRETS_FILE = tmp_path / "home" / "srs_secrets"
    assert any("SRS" in line for line in prepare(migrate=False, collectstatic=False))
    assert stat.S_IMODE(os.stat(settings.MAILAPP_SRS_SECRETS_FILE).st_mode) == 0o600
    assert len(srs.read_secrets(settings.MAILAPP_SRS_SECRETS_FILE, create=False)) == 1
    assert not any("SRS" in line for line in prepare(migrate=False, collectstatic=False)), "made once"
