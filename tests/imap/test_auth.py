"""Authentication through agents.config: mailbox password, IMAP permission, per-IP throttling."""

import imaplib

import pytest

from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE, BOB
from webadmin.models import Mailbox


def test_mailbox_password_logs_in(db_imap_server):
    imap = db_imap_server.client()
    assert imap.login("Alice@Example.com", PASSWORD)[0] == "OK"
    imap.select("INBOX")


def test_wrong_password_is_refused(db_imap_server):
    imap = db_imap_server.client()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap.login(ALICE, "wrong")


def test_mailbox_without_imap_permission_is_refused(db_imap_server):
    Mailbox.objects.filter(local_part="bob").update(can_imap=False)
    imap = db_imap_server.client()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap.login(BOB, PASSWORD)


def test_failed_logins_are_throttled_per_ip(imap_server):
    for _ in range(5):
        with pytest.raises(imaplib.IMAP4.error):
            imap_server.client().login(ALICE, "wrong")
    with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
        imap_server.client().login(ALICE, PASSWORD)  # even the right password, for a while
