"""App passwords over IMAP: mutt and mbsync log in with one; a wrong scope, an expired or revoked one is refused."""

from __future__ import annotations

import datetime
import imaplib
import shutil

import pytest
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE, message
from tests.imap.test_mbsync import local_files, mbsync
from tests.imap.test_mutt import run_mutt
from webadmin.models import AppPassword, Mailbox


@pytest.fixture
def alice(db_imap_server, settings) -> Mailbox:
    settings.MAILAPP_CONFIG_REFRESH = 0  # the server thread reads the change counter on every login
    return Mailbox.objects.get(local_part="alice")


def login_fails(server, password: str) -> bool:
    imap = server.client()
    try:
        imap.login(ALICE, password)
    except imaplib.IMAP4.error as exc:
        assert "AUTHENTICATIONFAILED" in str(exc) or "Authentication failed" in str(exc)
        return True
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return False


@pytest.mark.clients
def test_mutt_logs_in_with_an_app_password_and_its_use_is_recorded(db_imap_server, alice, tmp_path):
    assert shutil.which("mutt") and shutil.which("tmux")
    row, secret = AppPassword.issue(alice, "mutt", ["imap"])
    db_imap_server.deliver(message("flag me"))
    run_mutt(db_imap_server, tmp_path, "<flag-message><sync-mailbox><quit>", password=secret)
    inbox = db_imap_server.store.mailbox(ALICE).folder("INBOX")
    assert ["\\Flagged" in m.flags for m in inbox.messages()] == [True]
    row.refresh_from_db()
    assert row.last_used is not None and row.last_used_from == "127.0.0.1"


@pytest.mark.clients
def test_mbsync_syncs_with_an_app_password(db_imap_server, alice, tmp_path):
    _row, secret = AppPassword.issue(alice, "laptop backup", ["imap"])
    db_imap_server.store.mailbox(ALICE).create_folder("Archive")
    db_imap_server.deliver(message("to the laptop"))
    mbsync(db_imap_server, tmp_path, password=secret)
    assert len(local_files(tmp_path)) == 1


def test_a_wrong_scope_an_expired_and_a_revoked_app_password_are_refused(db_imap_server, alice):
    _pop_only, pop_secret = AppPassword.issue(alice, "POP only", ["pop3", "smtp"])
    _old, old_secret = AppPassword.issue(alice, "old", ["imap"], expires=timezone.now() - datetime.timedelta(1))
    live, live_secret = AppPassword.issue(alice, "phone", ["imap"])
    assert login_fails(db_imap_server, pop_secret)
    assert login_fails(db_imap_server, old_secret)
    assert not login_fails(db_imap_server, live_secret)
    live.delete()
    assert login_fails(db_imap_server, live_secret)
    assert not login_fails(db_imap_server, PASSWORD)  # the account password still works


def test_a_mailbox_that_requires_app_passwords_refuses_the_account_password(db_imap_server, alice):
    _row, secret = AppPassword.issue(alice, "phone", ["imap"])
    alice.require_app_passwords = True
    alice.save()
    assert login_fails(db_imap_server, PASSWORD)
    assert not login_fails(db_imap_server, secret)
