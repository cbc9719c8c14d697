"""Story 2: a mail client submits (587 STARTTLS + AUTH, 465 implicit TLS); local and remote delivery.

alice sends to bob (local, read back over IMAP) and to an external address
(delivered by the worker to the fake MX that the fake DNS names for
remote.test). Without AUTH the MX port refuses to relay (554 5.7.1), and an
unknown local user is refused at RCPT (550 5.1.1).
"""

from __future__ import annotations

import smtplib

import pytest

from tests.e2e.clients import (
    PASSWORD,
    Api,
    every_smtp_process_accepts,
    imap_login,
    message,
    new_message_id,
    wait_for_messages,
)
from tests.e2e.conftest import client_tls, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "story2.test"


@pytest.fixture(scope="module")
def mailboxes(appliance, admin_token):
    Api(appliance, admin_token).domain_with_mailboxes(DOMAIN, "alice", "bob")
    # Every story here may reach any smtp process: each must know bob (and alice, made before him).
    wait_for(lambda: every_smtp_process_accepts(appliance, f"bob@{DOMAIN}"), 30, "every smtp process to know bob")
    return appliance


def test_submission_with_starttls_and_auth_delivers_locally_and_remotely(mailboxes):
    app = mailboxes
    local_id, remote_id = new_message_id("sub-local"), new_message_id("sub-remote")
    with smtplib.SMTP("127.0.0.1", app.ports["SUBMISSION"], timeout=30) as client:
        client.starttls(context=client_tls())
        client.login(f"alice@{DOMAIN}", PASSWORD)
        refused = client.sendmail(f"alice@{DOMAIN}", [f"bob@{DOMAIN}"],
                                  message(f"alice@{DOMAIN}", f"bob@{DOMAIN}", "Lunch?", local_id))
        assert refused == {}
        refused = client.sendmail(f"alice@{DOMAIN}", ["erin@remote.test"],
                                  message(f"alice@{DOMAIN}", "erin@remote.test", "Hello Erin", remote_id))
        assert refused == {}

    wait_for_messages(app, f"bob@{DOMAIN}", {local_id})
    wait_for(lambda: app.mx.recipients_count().get("erin@remote.test"), 30, "erin's copy at the fake MX")
    delivered = [m for m in app.mx.messages if "erin@remote.test" in m.rcpt_tos]
    assert len(delivered) == 1
    assert delivered[0].mail_from == f"alice@{DOMAIN}"
    assert remote_id.encode() in delivered[0].data


def test_implicit_tls_port_submits_too(mailboxes):
    app = mailboxes
    mid = new_message_id("smtps")
    with smtplib.SMTP_SSL("127.0.0.1", app.ports["SMTPS"], context=client_tls(), timeout=30) as client:
        client.login(f"bob@{DOMAIN}", PASSWORD)
        assert client.sendmail(f"bob@{DOMAIN}", [f"alice@{DOMAIN}"],
                               message(f"bob@{DOMAIN}", f"alice@{DOMAIN}", "Re: Lunch?", mid)) == {}
    wait_for_messages(app, f"alice@{DOMAIN}", {mid})


def test_relay_without_auth_is_refused_and_unknown_users_are_unknown(mailboxes):
    app = mailboxes
    with smtplib.SMTP("127.0.0.1", app.ports["SMTP"], timeout=30) as client:
        client.ehlo("stranger.example")
        client.mail("spammer@remote.test")
        code, text = client.rcpt("victim@remote.test")
        assert (code, text.split()[0]) == (554, b"5.7.1")
        code, text = client.rcpt(f"nobody@{DOMAIN}")
        assert (code, text.split()[0]) == (550, b"5.1.1")
    with smtplib.SMTP("127.0.0.1", app.ports["SUBMISSION"], timeout=30) as client:
        client.starttls(context=client_tls())
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(f"alice@{DOMAIN}", "not the password")


def test_a_remote_refusal_comes_back_to_the_sender_as_a_bounce(mailboxes):
    app = mailboxes
    app.mx.set_replies("gone@remote.test", ["550 5.1.1 <gone@remote.test>: no such user here"])
    mid = new_message_id("bounced")
    with smtplib.SMTP("127.0.0.1", app.ports["SUBMISSION"], timeout=30) as client:
        client.starttls(context=client_tls())
        client.login(f"alice@{DOMAIN}", PASSWORD)
        assert client.sendmail(f"alice@{DOMAIN}", ["gone@remote.test"],
                               message(f"alice@{DOMAIN}", "gone@remote.test", "Are you there?", mid)) == {}

    def bounce() -> bytes | None:
        client = imap_login(app, f"alice@{DOMAIN}")
        try:
            client.select("INBOX", readonly=True)
            status, data = client.search(None, "FROM", "MAILER-DAEMON")
            uids = data[0].split()
            if not uids:
                return None
            status, data = client.fetch(uids[-1], "(BODY.PEEK[])")
            return data[0][1]
        finally:
            client.logout()

    raw = wait_for(bounce, 30, "the bounce in alice's INBOX", every=0.5)
    assert b"gone@remote.test" in raw and b"5.1.1" in raw
    assert mid.encode() in raw  # the DSN carries the original (or its headers)
    assert app.mx.recipients_count().get("gone@remote.test") is None
