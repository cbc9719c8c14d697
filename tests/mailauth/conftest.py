"""Fixtures for mail authentication tests: a loopback DNS server, the checks switched on, the smtp agent."""

from __future__ import annotations

import pytest

from agents import config
from tests.fakes.dns import FakeDNS
from tests.smtp.conftest import _fast_password_hashes, smtp_agent  # noqa: F401 (fixtures)


@pytest.fixture
def dns(settings, db):
    """A DNS server on loopback that the checks ask; the MX door's checks switched on."""
    with FakeDNS({}) as server:
        settings.MAILAPP_DNS_SERVER = server.address
        settings.MAILAPP_MAILAUTH = True
        settings.MAILAPP_RSPAMD_URL = ""
        settings.MAILAPP_CLAMD_SOCKET = ""
        settings.MAILAPP_DNSBL_ZONES = []
        config.invalidate()
        yield server
    config.invalidate()


def message(sender: str = "alice@sender.example", to: str = "bob@example.com", subject: str = "Hello",
            extra: str = "") -> bytes:
    """A well-formed small message with CRLF line ends."""
    text = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Mon, 23 Nov 2026 14:00:00 +0000\r\n"
            f"Message-ID: <{abs(hash(subject))}@test>\r\n{extra}MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nHello there.\r\nSecond line.\r\n")
    return text.encode()
