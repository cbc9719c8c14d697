"""Backup fixtures: the appliance's data directories in a per-test home, and a key file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.store import Store


@pytest.fixture
def home(settings, tmp_path: Path) -> Path:
    """Point the mail root, spool, TLS, ACME, archive and secret key at this test's directory."""
    base = tmp_path / "home"
    settings.MAILAPP_MAIL_ROOT = base / "mail"
    settings.MAILAPP_SPOOL_DIR = base / "spool"
    settings.MAILAPP_TLS_DIR = base / "tls"
    settings.MAILAPP_ACME_DIR = base / "acme"
    settings.MAILAPP_ARCHIVE_DIR = base / "archive"
    settings.SECRET_KEY_FILE = base / "secret_key"
    settings.MAILAPP_SRS_SECRETS_FILE = base / "srs_secrets"
    for name in ("mail", "spool", "tls"):
        (base / name).mkdir(parents=True)
    return base


@pytest.fixture
def store(home: Path) -> Store:
    return Store(home / "mail")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "backup.key"
    path.write_bytes(os.urandom(32))
    return path


def message(subject: str, body: str = "Hello.\r\n") -> bytes:
    return (f"From: carol@example.net\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.net>\r\n\r\n{body}").encode()
