"""fetchmail collects mail over POP3 with an app password; an IMAP-only one is refused; the use is recorded."""

from __future__ import annotations

import pytest

from tests.pop3.test_fetchmail import run_fetchmail
from webadmin.models import AppPassword, Mailbox

pytestmark = pytest.mark.clients


def test_fetchmail_with_an_app_password(pop3, tmp_path, settings):
    settings.MAILAPP_CONFIG_REFRESH = 0
    alice = Mailbox.objects.get(local_part="alice")
    row, secret = AppPassword.issue(alice, "fetchmail", ["pop3"])
    _imap_only, imap_secret = AppPassword.issue(alice, "IMAP only", ["imap"])
    pop3.deliver("alice@example.com", b"Subject: collected\r\n\r\nbody\r\n")

    refused = tmp_path / "refused"
    refused.mkdir()
    assert run_fetchmail(refused, pop3, keep=True, password=imap_secret, expect_ok=False) == []

    fetched = run_fetchmail(tmp_path, pop3, keep=True, password=secret)
    assert len(fetched) == 1 and b"Subject: collected" in fetched[0]
    row.refresh_from_db()
    assert row.last_used is not None and row.last_used_from == "127.0.0.1"

    row.delete()
    revoked = tmp_path / "revoked"
    revoked.mkdir()
    assert run_fetchmail(revoked, pop3, keep=True, password=secret, expect_ok=False) == []
