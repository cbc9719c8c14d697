"""The domains pages count mailboxes and show the storage each uses against its quota."""

import pytest

from agents.store import default_store
from tests.dashboard.conftest import STAFF_PASSWORD
from webadmin.dashboard.domains import mailbox_usage, mailboxes, summaries

MESSAGE = b"From: a@example.net\r\nSubject: hi\r\n\r\n" + b"x" * 5000 + b"\r\n"


@pytest.fixture
def mail_root(settings, tmp_path):
    settings.MAILAPP_MAIL_ROOT = tmp_path / "mail"
    return settings.MAILAPP_MAIL_ROOT


def test_usage_comes_from_the_store(mail_root, make_mailbox, superuser):
    make_mailbox("alice@example.com", quota=10_000)
    default_store().mailbox("alice@example.com").deliver(MESSAGE)
    rows = {m.address: m for m in mailboxes(make_mailbox("bob@example.com").domain)}
    assert rows["alice@example.com"].used == len(MESSAGE) and rows["alice@example.com"].percent == 50
    assert rows["bob@example.com"].used == 0


def test_looking_at_a_mailbox_never_creates_its_maildir(mail_root, make_mailbox):
    make_mailbox("carol@example.com")
    assert mailbox_usage("carol@example.com") == 0
    assert not (mail_root / "example.com" / "carol").exists()


def test_the_domain_summary_adds_up_mailboxes_and_quotas(mail_root, make_mailbox, superuser):
    make_mailbox("alice@example.com", quota=10_000)
    default_store().mailbox("alice@example.com").deliver(MESSAGE)
    (summary,) = summaries(superuser)
    assert summary.mailboxes == 2  # alice@ and the postmaster target admin@
    assert summary.used == len(MESSAGE)


def test_a_broken_index_does_not_break_the_domain_page(mail_root, make_mailbox, client, superuser):
    make_mailbox("dave@example.com")
    folder = mail_root / "example.com" / "dave"
    folder.mkdir(parents=True)
    (folder / "mailapp-index.sqlite").write_bytes(b"this is not a database" * 100)
    client.login(username="root", password=STAFF_PASSWORD)
    response = client.get("/dashboard/domains/example.com/")
    assert response.status_code == 200 and "dave@example.com" in response.content.decode()


def test_an_address_the_store_refuses_shows_unknown(mail_root):
    assert mailbox_usage("../etc@example.com") is None
