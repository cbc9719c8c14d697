"""Fixtures for webmail tests: a store and spool in a temporary directory, signed-in clients, messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from agents.store import MailboxStore, Store
from tests.conftest import PASSWORD, clear_cache


def message(
    subject: str = "Hello",
    body: str = "Hi there.\n",
    sender: str = "Bob Example <bob@example.com>",
    to: str = "alice@example.com",
    extra: str = "",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{abs(hash((subject, body)))}@example.com>\r\n"
        f"{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


def html_message(html: str, subject: str = "HTML", extra_parts: str = "") -> bytes:
    """A multipart/alternative mail whose HTML part is ``html`` verbatim."""
    return (
        "From: Mallory <mallory@example.org>\r\nTo: alice@example.com\r\n"
        f"Subject: {subject}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/related; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"{html}\r\n{extra_parts}--b1--\r\n"
    ).encode()


@pytest.fixture(autouse=True)
def _isolated_mail(settings, tmp_path: Path) -> None:
    """Each test gets its own mail root and spool, and a clean cache (webmail's folder orders).

    A fast password hasher keeps the many sign-ins of these tests cheap; the
    hasher is not what they test.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MAILAPP_MAIL_ROOT = tmp_path / "mail"
    settings.MAILAPP_SPOOL_DIR = tmp_path / "spool"
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def store(settings) -> Store:
    return Store(settings.MAILAPP_MAIL_ROOT)


@pytest.fixture
def alice_store(store: Store, example_com) -> MailboxStore:
    return store.mailbox("alice@example.com")


@pytest.fixture
def bob_store(store: Store, example_com) -> MailboxStore:
    return store.mailbox("bob@example.com")


@pytest.fixture
def login() -> Callable[[str], Client]:
    """A Django test client signed in to webmail as ``address`` (password PASSWORD)."""

    def sign_in(address: str, password: str = PASSWORD) -> Client:
        client = Client()
        response = client.post("/mail/login/", {"address": address, "password": password})
        assert response.status_code == 302, response.content[:500]
        return client

    return sign_in


@pytest.fixture
def alice(example_com, login) -> Client:
    return login("alice@example.com")
