"""Webmail settings: a user creates (secret shown once), lists and revokes app passwords, CSRF enforced."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from agents import config
from tests.conftest import PASSWORD
from webadmin.models import AppPassword, Mailbox


@pytest.fixture
def csrf_alice(example_com, settings) -> Client:
    settings.MAILAPP_CONFIG_REFRESH = 0
    client = Client(enforce_csrf_checks=True)
    client.get("/mail/login/")
    token = client.cookies["csrftoken"].value
    response = client.post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD,
                                            "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    return client


def post(client: Client, data: dict) -> object:
    return client.post("/mail/settings/", {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


def test_create_shows_the_secret_once_and_it_opens_imap(csrf_alice):
    response = post(csrf_alice, {"what": "app_password", "name": "Phone", "scopes": ["imap", "smtp"], "days": ""})
    assert response.status_code == 200
    found = re.search(rb'id="new-app-password" class="secret" readonly value="([a-z0-9-]+)"', response.content)
    assert found, response.content[-3000:]
    secret = found.group(1).decode()
    assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){6}", secret)
    assert config.authenticate("alice@example.com", secret, "imap")
    assert config.authenticate("alice@example.com", secret, "pop3") is None
    page = csrf_alice.get("/mail/settings/")
    assert b"Phone" in page.content and secret.encode() not in page.content
    assert page["Cache-Control"] == "private, no-store"


def test_an_expiry_in_days_is_kept(csrf_alice):
    post(csrf_alice, {"what": "app_password", "name": "Laptop", "scopes": ["pop3"], "days": "30"})
    row = AppPassword.objects.get()
    assert row.expires is not None and 29 <= (row.expires - row.created).days <= 30
    bad = post(csrf_alice, {"what": "app_password", "name": "Laptop", "scopes": ["pop3"], "days": "0"})
    assert bad.status_code == 302 and AppPassword.objects.count() == 1


def test_revoke_works_only_on_ones_own(csrf_alice, make_mailbox):
    post(csrf_alice, {"what": "app_password", "name": "Phone", "scopes": ["imap"]})
    mine = AppPassword.objects.get()
    bob = Mailbox.objects.get(local_part="bob")
    theirs, _ = AppPassword.issue(bob, "Bob's phone", ["imap"])
    post(csrf_alice, {"what": "app_password_revoke", "id": str(theirs.pk)})
    assert AppPassword.objects.filter(pk=theirs.pk).exists()
    assert b"Bob&#x27;s phone" not in csrf_alice.get("/mail/settings/").content
    post(csrf_alice, {"what": "app_password_revoke", "id": str(mine.pk)})
    assert not AppPassword.objects.filter(pk=mine.pk).exists()


def test_a_post_without_the_csrf_token_is_refused(csrf_alice):
    response = csrf_alice.post("/mail/settings/", {"what": "app_password", "name": "Phone", "scopes": ["imap"]})
    assert response.status_code == 403
    assert not AppPassword.objects.exists()


def test_the_user_can_require_app_passwords(csrf_alice):
    post(csrf_alice, {"what": "require_app_passwords", "active": "1"})
    assert Mailbox.objects.get(local_part="alice").require_app_passwords
    assert config.authenticate("alice@example.com", PASSWORD, "imap") is None
    assert config.authenticate("alice@example.com", PASSWORD, "webmail")
