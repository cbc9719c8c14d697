"""``manage.py reindex`` rebuilds the full-text index from the message files."""

from __future__ import annotations

import io
import shutil
import sqlite3
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from agents.store import Store
from agents.store.index import forget

from .conftest import message


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM fulltext_text").fetchone()[0])


def test_reindex_rebuilds_a_damaged_index(settings):
    root = Path(settings.MAILAPP_MAIL_ROOT)  # one per test process: start these two mailboxes empty
    for mailbox in ("example.com/alice", "example.org/bob"):
        shutil.rmtree(root / mailbox, ignore_errors=True)
    store = Store(root)
    alice = store.mailbox("alice@example.com")
    bob = store.mailbox("bob@example.org")
    alice.create_folder("Archive")
    for n in range(3):
        alice.deliver(message(f"a{n}", body="alpha words\n"))
    alice.deliver(message("arch", body="alpha archived\n"), folder="Archive")
    bob.deliver(message("b", body="bravo words\n"))
    for box in (alice, bob):
        forget(box.index_path)
        with sqlite3.connect(box.index_path) as conn:  # lost rows, and a wrong one
            conn.execute("DELETE FROM fulltext_text")
            conn.execute("INSERT INTO fulltext_words (fulltext_words) VALUES ('delete-all')")
            conn.execute("INSERT INTO fulltext_text (id, head, body) VALUES ((1 << 32) | 2, '', 'bogus')")
            conn.execute("INSERT INTO fulltext_words (rowid, head, body) VALUES ((1 << 32) | 2, '', 'bogus')")
    out = io.StringIO()
    call_command("reindex", stdout=out)
    assert "alice@example.com: 4 messages indexed" in out.getvalue()
    assert "bob@example.org: 1 messages indexed" in out.getvalue()
    assert _rows(alice.index_path) == 4 and _rows(bob.index_path) == 1
    inbox = store.mailbox("alice@example.com").folder("INBOX")
    assert inbox.search_text("alpha") == [1, 2, 3] and inbox.search_text("bogus") == []
    call_command("reindex", "bob@example.org", stdout=out)
    assert store.mailbox("bob@example.org").folder("INBOX").search_text("bravo") == [1]


def test_reindex_names_an_unknown_mailbox(settings):
    with pytest.raises(CommandError, match="no mailbox"):
        call_command("reindex", "nobody@example.com", stdout=io.StringIO())
