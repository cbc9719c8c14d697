"""A mailbox snapshot is one state: index first, then the files it names; later writes are in or out, never half."""

from __future__ import annotations

import sqlite3

from agents.store import Store
from agents.store.index import INDEX_NAME
from agents.store.snapshot import snapshot_mailbox

from .conftest import message


def test_writes_during_a_snapshot_are_either_in_it_or_not(store: Store, tmp_path):
    box = store.mailbox("alice@example.com")
    for n in range(4):
        box.deliver(message(f"m {n}"), "INBOX")
    inbox = box.folder("INBOX")
    uids = inbox.uids()
    inbox.store_flags([uids[1]], {"\\Seen"}, "add")

    walk = snapshot_mailbox(box.path, tmp_path / "scratch")
    rel, path, _ = next(walk)  # the index is copied now; each file is read before the next is asked for
    messages = [(rel, path.read_bytes())]
    inbox.expunge([uids[3]], deleted_only=False)  # after the index copy, before its file is read
    inbox.store_flags([uids[1]], {"\\Flagged"}, "add")  # renames the file
    box.deliver(message("late"), "INBOX")  # not in the copied index
    messages += [(rel, path.read_bytes()) for rel, path, uniq in walk if uniq]
    index = sqlite3.connect(tmp_path / "scratch" / INDEX_NAME)
    try:
        rows = index.execute("SELECT subdir || '/' || fname FROM messages ORDER BY uid").fetchall()
        exists = index.execute("SELECT exists_count FROM folders WHERE name = 'INBOX'").fetchone()[0]
    finally:
        index.close()
    bodies = [data for _, data in messages]
    assert len(rows) == 3  # m 3 was expunged before its file was read: dropped from the copied index too
    assert sorted(rel for rel, _ in messages) == sorted(r[0] for r in rows)  # every file the index names, no other
    assert exists == len(rows)
    assert not any(b"Subject: late" in data or b"Subject: m 3" in data for data in bodies)
    assert any(b"Subject: m 1" in data for data in bodies)  # found under its new name, stored under the indexed one
