"""Submission (587, STARTTLS then AUTH) and SMTPS (465, implicit TLS) deliver to the queue."""

from __future__ import annotations

import base64
import smtplib

import pytest

from agents.models import QueueMessage
from tests.conftest import PASSWORD

from .conftest import message


def plain(user: str, password: str) -> str:
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def test_submission_with_starttls_and_auth_queues_for_a_remote_recipient(agent):
    with agent.smtp(agent.submission) as client:
        client.starttls(context=agent.client_context())
        client.login("alice@example.com", PASSWORD)
        refused = client.sendmail("alice@example.com", ["dave@elsewhere.test"], message(sender="alice@example.com"))
    assert refused == {}
    row = QueueMessage.objects.get()
    assert row.source == "submission" and row.auth_user == "alice@example.com" and row.tls.startswith("TLSv1.")
    from agents.queue import spool

    raw = spool.read(row.queue_id)
    assert b"(Authenticated sender: alice@example.com)" in raw and b"with ESMTPSA" in raw and b"(using TLSv1." in raw


def test_smtps_with_auth_queues(agent):
    with agent.smtps() as client:
        client.login("bob@example.com", PASSWORD)
        client.sendmail("bob@example.com", ["alice@example.com"], message(sender="bob@example.com"))
    row = QueueMessage.objects.get()
    assert row.source == "smtps" and row.auth_user == "bob@example.com"


def test_submission_refuses_mail_before_starttls(agent):
    client = agent.raw(agent.submission)
    client.cmd("EHLO client.test")
    assert client.cmd("MAIL FROM:<alice@example.com>") == "530 5.7.0 Must issue a STARTTLS command first"


def test_submission_refuses_mail_without_auth(agent):
    with agent.smtp(agent.submission) as client:
        client.starttls(context=agent.client_context())
        client.ehlo("client.test")
        code, reply = client.mail("alice@example.com")
    assert (code, reply) == (530, b"5.7.0 Authentication required")


def test_auth_before_tls_is_refused_when_not_in_dev_mode(agent):
    client = agent.raw()
    client.cmd("EHLO client.test")
    token = base64.b64encode(f"\0alice@example.com\0{PASSWORD}".encode()).decode()
    assert client.cmd(f"AUTH PLAIN {token}").startswith("538 5.7.11")


def test_auth_without_tls_works_on_loopback_in_dev_mode(smtp_agent, example_com):
    dev = smtp_agent(dev_mode=True)
    with dev.smtp(dev.submission) as client:
        client.login("alice@example.com", PASSWORD)
        assert client.sendmail("alice@example.com", ["bob@example.com"], message(sender="alice@example.com")) == {}


def test_wrong_password(agent):
    with agent.smtps() as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
            client.login("alice@example.com", "wrong")
    assert caught.value.smtp_code == 535 and caught.value.smtp_error.startswith(b"5.7.8")


def test_auth_login_mechanism_step_by_step(agent):
    with agent.smtps() as client:
        client.ehlo("client.test")
        assert client.docmd("AUTH LOGIN")[0] == 334
        assert client.docmd(base64.b64encode(b"alice@example.com").decode())[0] == 334
        assert client.docmd(base64.b64encode(PASSWORD.encode()).decode()) == (235, b"2.7.0 Authentication successful")


def test_auth_plain_garbage_is_a_syntax_error(agent):
    with agent.smtps() as client:
        client.ehlo("client.test")
        code, _ = client.docmd("AUTH PLAIN", "!!!notbase64")
        assert code == 501
        code, _ = client.docmd("AUTH PLAIN", base64.b64encode(b"no-nul-bytes").decode())
        assert code == 501


def test_authenticated_user_may_not_send_as_someone_else(agent):
    with agent.smtps() as client:
        client.login("alice@example.com", PASSWORD)
        code, reply = client.mail("bob@example.com")
    assert code == 553
    assert reply == b"5.7.1 <bob@example.com>: Sender address rejected: not owned by user alice@example.com"


def test_authenticated_user_may_send_as_an_alias_they_own(agent):
    from webadmin import services

    services.create_alias("sales@example.com", ["alice@example.com"])
    with agent.smtps() as client:
        client.login("alice@example.com", PASSWORD)
        assert client.mail("sales@example.com")[0] == 250


def test_repeated_auth_failures_lock_the_client_out(smtp_agent, example_com, settings):
    settings.MAILAPP_AUTH_MAX_FAILURES = 2
    agent = smtp_agent()
    for _ in range(2):
        with agent.smtps() as client:
            client.ehlo("client.test")
            assert client.docmd("AUTH PLAIN", plain("alice@example.com", "wrong"))[0] == 535
    with agent.smtps() as client:
        client.ehlo("client.test")
        code, text = client.docmd("AUTH PLAIN", plain("alice@example.com", PASSWORD))  # even the right one
    assert code == 454 and b"too many failed" in text


def test_auth_plain_as_someone_else_is_refused(agent):
    token = base64.b64encode(f"bob@example.com\0alice@example.com\0{PASSWORD}".encode()).decode()
    with agent.smtps() as client:
        client.ehlo("client.test")
        assert client.docmd("AUTH PLAIN", token)[0] == 535
