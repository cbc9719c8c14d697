"""The process's copy of IMAP wire forms (``agents.store.wirememory``) in front of the index's ``mime_wire``.

A copy is served without a query; it never outlives what it names: a folder deleted and made again, or
a mailbox removed and made again under the same path, gets its own messages' forms, never the old ones.
"""

from __future__ import annotations

import shutil
import sqlite3

from agents.store import Store, wirememory
from agents.store.index import forget

from .conftest import message

VERSION = 1


def forms(uid: int, subject: str) -> tuple[int, bytes, bytes, bytes]:
    return uid, f'("date" "{subject}")'.encode(), b"(bs)", b"(body)"


def test_forms_kept_are_served_without_the_index(mailbox):
    wirememory.forget()
    inbox = mailbox.folder("INBOX")
    uid = mailbox.deliver(message("one"))[1]
    inbox.refresh()
    inbox.keep_wire(VERSION, [forms(uid, "one")])
    with sqlite3.connect(mailbox.index_path) as conn:  # gone from the index behind the store's back
        conn.execute("DELETE FROM mime_wire")
    assert inbox.wire([uid], VERSION) == {uid: forms(uid, "one")[1:]}
    assert inbox.wire([uid], VERSION + 1) == {}  # another serialiser's version is another entry


def test_forms_read_from_the_index_are_kept(mailbox):
    wirememory.forget()
    inbox = mailbox.folder("INBOX")
    uid = mailbox.deliver(message("one"))[1]
    inbox.refresh()
    inbox.keep_wire(VERSION, [forms(uid, "one")])
    wirememory.forget()
    assert inbox.wire([uid], VERSION) == {uid: forms(uid, "one")[1:]}  # read from the index
    with sqlite3.connect(mailbox.index_path) as conn:
        conn.execute("DELETE FROM mime_wire")
    assert inbox.wire([uid], VERSION) == {uid: forms(uid, "one")[1:]}  # and kept


def test_a_folder_made_again_does_not_get_the_old_forms(mailbox):
    wirememory.forget()
    mailbox.create_folder("Work")
    work = mailbox.folder("Work")
    uid = work.append(message("old"))
    work.keep_wire(VERSION, [forms(uid, "old")])
    assert work.wire([uid], VERSION)
    mailbox.delete_folder("Work")
    mailbox.create_folder("Work")
    again = mailbox.folder("Work")
    assert again.append(message("new")) == uid  # the same UID, in a folder of another UIDVALIDITY
    assert again.wire([uid], VERSION) == {}


def test_a_mailbox_made_again_does_not_get_the_old_forms(store):
    wirememory.forget()
    box = store.mailbox("carol@example.com")
    uid = box.deliver(message("old"))[1]
    inbox = box.folder("INBOX")
    inbox.keep_wire(VERSION, [forms(uid, "old")])
    forget(box.index_path)
    shutil.rmtree(box.path)
    again = store.mailbox("carol@example.com")
    assert again.deliver(message("new"))[1] == uid
    assert again.folder("INBOX").wire([uid], VERSION) == {}


def test_a_busy_index_keeps_nothing_in_memory_either(mailbox):
    wirememory.forget()
    inbox = mailbox.folder("INBOX")
    uid = mailbox.deliver(message("busy"))[1]
    writer = sqlite3.connect(mailbox.index_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        inbox.keep_wire(VERSION, [forms(uid, "busy")])  # waits CACHE_WAIT, then skips
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert inbox.wire([uid], VERSION) == {}


def test_memory_is_bounded_least_recently_used_first(mailbox, monkeypatch):
    wirememory.forget()
    monkeypatch.setattr(wirememory, "BYTES_KEPT", 3 * (len(b'("date" "m0")(bs)(body)') + wirememory.ENTRY_OVERHEAD))
    key = ("x", 1, 1, 1)
    wirememory.keep(key, VERSION, [(u, forms(u, f"m{u}")[1:]) for u in range(3)])
    assert wirememory.lookup(key, VERSION, [0])[1] == []  # 0 is now the most recently used
    wirememory.keep(key, VERSION, [(3, forms(3, "m3")[1:])])
    found, missing = wirememory.lookup(key, VERSION, [0, 1, 2, 3])
    assert missing == [1] and sorted(found) == [0, 2, 3]
    assert wirememory.kept_bytes() <= wirememory.BYTES_KEPT


def test_store_instances_share_nothing_wrong(tmp_path):
    """Two stores (two data directories) with the same address, folder id and UID: two index paths."""
    wirememory.forget()
    one, two = Store(tmp_path / "one"), Store(tmp_path / "two")
    uid = one.mailbox("a@example.com").deliver(message("one"))[1]
    assert two.mailbox("a@example.com").deliver(message("two"))[1] == uid
    first = one.mailbox("a@example.com").folder("INBOX")
    first.keep_wire(VERSION, [forms(uid, "one")])
    assert two.mailbox("a@example.com").folder("INBOX").wire([uid], VERSION) == {}
