"""An index written by an older version of the store is upgraded in place when opened."""

from __future__ import annotations

import sqlite3

from agents.store import Store
from agents.store.index import SCHEMA_VERSION, forget

from .conftest import message


def test_old_index_gets_the_new_indexes_and_keeps_its_messages(store: Store):
    mailbox = store.mailbox("alice@example.com")
    mailbox.deliver(message("kept"))
    forget(mailbox.index_path)
    with sqlite3.connect(mailbox.index_path) as conn:
        conn.execute("DROP INDEX messages_new")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    inbox = store.mailbox("alice@example.com").folder("INBOX")
    assert inbox.claim_recent() == {1} and [s.subject for s in inbox.page()] == ["kept"]
    with sqlite3.connect(mailbox.index_path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
    assert "messages_new" in names and int(version) == SCHEMA_VERSION
