"""SMTP submission with an app password (smtplib, STARTTLS then AUTH); the scope and expiry are honoured."""

from __future__ import annotations

import datetime
import smtplib

import pytest
from django.utils import timezone

from agents.models import QueueMessage
from webadmin.models import AppPassword, Mailbox

from .conftest import message


@pytest.fixture
def alice(agent, settings) -> Mailbox:
    settings.MAILAPP_CONFIG_REFRESH = 0
    return Mailbox.objects.get(local_part="alice")


def submit(agent, password: str) -> None:
    with agent.smtp(agent.submission) as client:
        client.starttls(context=agent.client_context())
        client.login("alice@example.com", password)
        client.sendmail("alice@example.com", ["dave@elsewhere.test"], message(sender="alice@example.com"))


def test_submission_with_an_app_password(agent, alice):
    row, secret = AppPassword.issue(alice, "Thunderbird", ["imap", "smtp"])
    submit(agent, secret)
    assert QueueMessage.objects.get().auth_user == "alice@example.com"
    row.refresh_from_db()
    assert row.last_used is not None and row.last_used_from == "127.0.0.1"


def test_submission_refuses_an_app_password_without_the_smtp_scope_or_expired(agent, alice):
    _imap_only, imap_secret = AppPassword.issue(alice, "IMAP only", ["imap"])
    _old, old_secret = AppPassword.issue(alice, "old", ["smtp"], expires=timezone.now() - datetime.timedelta(1))
    for secret in (imap_secret, old_secret):
        with pytest.raises(smtplib.SMTPAuthenticationError):
            submit(agent, secret)
    assert not QueueMessage.objects.exists()
