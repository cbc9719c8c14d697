"""The quota figure other nodes read (MailboxUsage) follows what users delete by any door, not only
deliveries: IMAP EXPUNGE, POP3 DELE, a deleted folder, an IMAP APPEND."""

from __future__ import annotations

import poplib
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from agents import metrics
from agents.delivery.local import StoreBatch, StoreWrite
from agents.imap.service import authenticate
from agents.models import MailboxUsage
from agents.pop3.runner import build_server
from agents.store import default_store
from agents.tls import ensure_certificate, settings_server_context
from tests.conftest import PASSWORD, wait_until
from tests.imap.conftest import _run_server
from tests.serverthread import serving

RAW = b"Subject: %d\r\n\r\n" + b"x" * 1000 + b"\r\n"


@pytest.fixture
def home_b(transactional_db, make_mailbox, settings):
    shutil.rmtree(Path(django_settings.MAILAPP_MAIL_ROOT) / "example.com", ignore_errors=True)
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "b"
    make_mailbox("alice@example.com", home_node="b")
    batch = StoreBatch()
    for n in range(4):
        batch.add(StoreWrite("alice@example.com", RAW % n, f"q{n}:alice@example.com", "INBOX", ()))
    batch.commit()
    yield
    metrics.flush()
    shutil.rmtree(Path(django_settings.MAILAPP_MAIL_ROOT) / "example.com", ignore_errors=True)


def cached() -> int:
    return MailboxUsage.objects.get(address="alice@example.com").bytes


def on_disk() -> int:
    return default_store().mailbox("alice@example.com").usage()


def test_store_deletions_renew_the_figure(home_b):
    assert cached() == on_disk() > 0
    box = default_store().mailbox("alice@example.com")
    box.folder("INBOX").expunge([1])
    assert cached() == on_disk(), "an expunge left the quota figure behind"
    box.folder("INBOX").copy([2], "Trash")
    assert cached() == on_disk(), "a copy left the quota figure behind"
    box.delete_folder("Trash")
    assert cached() == on_disk() == 3 * len(RAW % 0), "a deleted folder left it behind"


def test_an_imap_expunge_renews_the_figure(home_b, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_certificate(cert, key, "localhost")
    before = cached()
    for running in _run_server(default_store(), (cert, key), auth=authenticate):
        imap = running.login("alice@example.com")
        imap.select("INBOX")
        imap.store("1:2", "+FLAGS", "(\\Deleted)")
        imap.expunge()
        wait_until(lambda: cached() < before, "the figure to follow an IMAP EXPUNGE", timeout=10)
        assert cached() == on_disk()
        imap.append("INBOX", None, None, RAW % 9)
        wait_until(lambda: cached() == on_disk(), "the figure to follow an IMAP APPEND", timeout=10)
        imap.logout()


def test_a_pop3_dele_renews_the_figure(home_b):
    before = cached()
    server = build_server(bind="127.0.0.1", port=0, tls_port=0, ssl_context=settings_server_context(),
                          store=default_store())
    server.config.dev_mode = True
    with serving(server):
        pop = poplib.POP3("127.0.0.1", server.ports[0], timeout=10)
        pop.user("alice@example.com")
        pop.pass_(PASSWORD)
        pop.dele(1)
        pop.quit()
        wait_until(lambda: cached() < before, "the figure to follow a POP3 DELE", timeout=10)
        assert cached() == on_disk()
