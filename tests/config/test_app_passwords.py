"""App passwords in agents.config.authenticate: scopes, expiry, revocation, last use, the require flag."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agents import config
from agents.authcache import login_peer
from tests.conftest import PASSWORD
from webadmin.models import AppPassword, Mailbox

ALICE = "alice@example.com"


@pytest.fixture(autouse=True)
def _refresh_every_lookup(settings):
    settings.MAILAPP_CONFIG_REFRESH = 0


@pytest.fixture
def alice(example_com) -> Mailbox:
    return Mailbox.objects.get(local_part="alice")


def test_an_app_password_opens_its_scopes_only(alice):
    row, secret = AppPassword.issue(alice, "Phone", ["imap", "smtp"])
    assert len(secret) == 34 and secret.count("-") == 6
    assert config.authenticate(ALICE, secret, "imap")
    assert config.authenticate(ALICE, secret, "smtp")
    assert config.authenticate(ALICE, secret.upper().replace("-", " "), "imap")  # typed by hand
    assert config.authenticate(ALICE, secret, "pop3") is None
    assert config.authenticate(ALICE, secret, "webmail") is None
    assert config.authenticate("bob@example.com", secret, "imap") is None  # another mailbox's login
    assert AppPassword.objects.get(pk=row.pk).digest != secret


def test_the_secret_is_not_stored(alice):
    row, secret = AppPassword.issue(alice, "Phone", ["imap"])
    stored = AppPassword.objects.filter(pk=row.pk).values().get()
    assert not any(secret.replace("-", "") in str(value).replace("-", "") for value in stored.values())


def test_an_expired_app_password_is_refused(alice):
    _row, secret = AppPassword.issue(alice, "Old laptop", ["imap"], expires=timezone.now() - datetime.timedelta(1))
    assert config.authenticate(ALICE, secret, "imap") is None


def test_a_revoked_app_password_is_refused_at_once_even_when_cached(alice):
    row, secret = AppPassword.issue(alice, "Phone", ["imap"])
    assert config.authenticate(ALICE, secret, "imap")
    assert config.authenticate(ALICE, secret, "imap")  # now from the cache
    row.delete()
    assert config.authenticate(ALICE, secret, "imap") is None


def test_a_narrowed_scope_is_refused_at_once_even_when_cached(alice):
    row, secret = AppPassword.issue(alice, "Phone", ["imap", "pop3"])
    assert config.authenticate(ALICE, secret, "pop3")
    row.scopes = ["imap"]
    row.save()
    assert config.authenticate(ALICE, secret, "pop3") is None


def test_last_use_time_and_address_are_recorded(alice):
    row, secret = AppPassword.issue(alice, "Phone", ["pop3"])
    token = login_peer.set("127.0.0.9")
    try:
        assert config.authenticate(ALICE, secret, "pop3")
    finally:
        login_peer.reset(token)
    row.refresh_from_db()
    assert row.last_used is not None and row.last_used_from == "127.0.0.9"


def test_a_mailbox_can_require_app_passwords_for_mail_clients(alice):
    _row, secret = AppPassword.issue(alice, "Phone", ["imap"])
    assert config.authenticate(ALICE, PASSWORD, "imap")
    alice.require_app_passwords = True
    alice.save()
    assert config.authenticate(ALICE, PASSWORD, "imap") is None
    assert config.authenticate(ALICE, PASSWORD, "smtp") is None
    assert config.authenticate(ALICE, PASSWORD, "webmail")
    assert config.authenticate(ALICE, secret, "imap")


def test_an_app_password_needs_a_name_and_known_scopes(alice):
    with pytest.raises(ValidationError):
        AppPassword.issue(alice, "", ["imap"])
    with pytest.raises(ValidationError):
        AppPassword.issue(alice, "Phone", [])
    with pytest.raises(ValidationError):
        AppPassword.issue(alice, "Phone", ["webmail"])
    assert not AppPassword.objects.exists()


def test_last_use_is_written_at_most_once_a_minute_per_address(alice):
    row, secret = AppPassword.issue(alice, "Phone", ["imap"])
    token = login_peer.set("127.0.0.9")
    try:
        assert config.authenticate(ALICE, secret, "imap")
        AppPassword.objects.filter(pk=row.pk).update(last_used=None)
        assert config.authenticate(ALICE, secret, "imap")  # the same client again: no write
        assert AppPassword.objects.get(pk=row.pk).last_used is None
        login_peer.set("127.0.0.10")
        assert config.authenticate(ALICE, secret, "imap")  # another address: written
        assert AppPassword.objects.get(pk=row.pk).last_used_from == "127.0.0.10"
    finally:
        login_peer.reset(token)
