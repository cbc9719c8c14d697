"""Users see their other accounts' errors on the webmail settings page."""

from __future__ import annotations

from django.test import Client

from agents.fetch.engine import poll
from tests.conftest import PASSWORD


def test_settings_page_shows_the_sources_last_error(make_source, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    alice = make_source("imap").mailbox
    alice.set_password(PASSWORD)
    alice.save()
    poll(make_source("pop3", password="wrong").pk)
    client = Client()
    assert client.post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD}).status_code == 302
    page = client.get("/mail/settings/").content.decode()
    assert "Other accounts" in page and "login as remote refused" in page and "not yet" in page
