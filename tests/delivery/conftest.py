"""Delivery test fixtures: a DNS server and a remote MX on loopback, and queue helpers.

``remote.test`` has its MX at 127.0.0.1 where the fake SMTP server ``mx`` listens;
the resolver and the remote port are pointed there through settings.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from agents.delivery import runner
from agents.models import QueueMessage
from agents.queue import Envelope, submit
from tests.fakes.dns import FakeDNS
from tests.fakes.smtp import FakeSMTP

ZONES = {
    "remote.test": {"MX": [(10, "mx1.remote.test")]},
    "mx1.remote.test": {"A": ["127.0.0.1"]},
}


@pytest.fixture
def dns_server(settings):
    with FakeDNS(dict(ZONES)) as server:
        settings.MAILAPP_DNS_SERVER = server.address
        yield server


@pytest.fixture
def mx(settings, dns_server):
    with FakeSMTP() as server:
        settings.MAILAPP_REMOTE_SMTP_PORT = server.port
        yield server


@pytest.fixture(autouse=True)
def _quick_delivery_settings(settings, tmp_path):
    """Each test gets its own Maildirs and spool; remote sessions time out fast."""
    settings.MAILAPP_MAIL_ROOT = tmp_path / "mail"
    settings.MAILAPP_SPOOL_DIR = tmp_path / "spool"
    settings.MAILAPP_SMTP_CLIENT_TIMEOUT = 5
    settings.MAILAPP_SMARTHOST = ""


def message(subject: str = "Hello", sender: str = "carol@remote.test", to: str = "alice@example.com",
            extra: str = "", body: str = "Hi there.\r\n") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}@test>\r\n"
            f"{extra}\r\n{body}").encode()


def queue(raw: bytes, sender: str, recipients: list[str], **kw) -> str:
    return submit(raw, Envelope(sender=sender, recipients=recipients, **kw), enqueue=False)


def deliver_all(rounds: int = 10) -> dict[str, str]:
    """Run every due message here until none is due (new forwards and bounces too)."""
    results: dict[str, str] = {}
    for _ in range(rounds):
        done = runner.run_due()
        if not done:
            break
        results.update(done)
    return results


def age(queue_id: str, **delta: float) -> None:
    """Move a queued message back in time: created earlier and due now."""
    past = timezone.now() - datetime.timedelta(**delta)
    QueueMessage.objects.filter(queue_id=queue_id).update(created=past, next_attempt=timezone.now())


def make_due(queue_id: str) -> None:
    QueueMessage.objects.filter(queue_id=queue_id).update(next_attempt=timezone.now())


def maildir_files(address: str, folder: str = "INBOX") -> list[Path]:
    local, _, domain = address.partition("@")
    base = Path(settings.MAILAPP_MAIL_ROOT) / domain / local
    if folder != "INBOX":
        base = base / ("." + folder.replace("/", "."))
    return sorted(p for sub in ("cur", "new") if (base / sub).is_dir() for p in (base / sub).iterdir())


def index_count(address: str, folder: str = "INBOX") -> int:
    from agents.store import default_store

    return len(default_store().mailbox(address).folder(folder).messages())
