"""Fixtures for store tests: a store in a temporary directory, and message builders."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.store import MailboxStore, Store


def message(subject: str = "Hello", body: str = "Hi there.\n", sender: str = "bob@example.org") -> bytes:
    return (
        f"From: Bob <{sender}>\nTo: alice@example.com\nSubject: {subject}\n"
        f"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <{abs(hash(subject))}@example.org>\n\n{body}"
    ).encode()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "mail")


@pytest.fixture
def mailbox(store: Store) -> MailboxStore:
    return store.mailbox("alice@example.com")
