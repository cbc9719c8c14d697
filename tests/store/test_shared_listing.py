"""The folder listing a process keeps is shared, never changed in place, and caught up in step with the index."""

from __future__ import annotations

import sqlite3

from agents.store import Store
from tests.store.conftest import message


def fresh(store: Store, address: str = "alice@example.com") -> list[tuple[int, frozenset[str]]]:
    """What a full read of the index says (a second process would see this)."""
    conn = sqlite3.connect(store.mailbox(address).index_path)
    rows = conn.execute("SELECT uid, flags FROM messages WHERE folder_id = 1 ORDER BY uid").fetchall()
    conn.close()
    return [(uid, frozenset(flags.split())) for uid, flags in rows]


def test_two_listings_without_a_change_are_one_object(mailbox):
    for n in range(3):
        mailbox.deliver(message(f"m{n}"))
    inbox = mailbox.folder("INBOX")
    first = inbox.listing()
    assert mailbox.folder("INBOX").listing() is first
    assert first.uids == [m.uid for m in first.metas] == [1, 2, 3]


def test_a_listing_is_caught_up_without_changing_the_old_one(mailbox, store):
    for n in range(6):
        mailbox.deliver(message(f"m{n}"))
    inbox = mailbox.folder("INBOX")
    old = inbox.listing()
    old_uids, old_metas = list(old.uids), list(old.metas)
    other = store.mailbox("alice@example.com").folder("INBOX")  # another session's folder object
    other.store_flags([2, 5], ["\\Flagged"], "add")
    other.expunge([1, 4])
    mailbox.deliver(message("late"))
    new = inbox.listing()
    assert new is not old
    assert (old.uids, old.metas) == (old_uids, old_metas)  # sessions still holding it see no change
    assert new.uids == [m.uid for m in new.metas] == [2, 3, 5, 6, 7]
    assert [(m.uid, m.flags) for m in new.metas] == fresh(store)
    assert new.modseq == inbox.poll()


def test_catch_up_gives_the_changes_that_lead_to_the_listing(mailbox):
    for n in range(3):
        mailbox.deliver(message(f"m{n}"))
    inbox = mailbox.folder("INBOX")
    start = inbox.listing().modseq
    inbox.expunge([2])
    inbox.store_flags([3], ["\\Seen"], "add")
    listing, changes = inbox.catch_up(start)
    assert changes.expunged == [2] and [m.uid for m in changes.changed] == [3]
    assert listing.uids == [1, 3] and listing.metas[1].flags == frozenset({"\\Seen"})


def test_claiming_nothing_takes_no_write_lock(mailbox):
    """A warm SELECT (nothing new since the last one) does not wait for writers: it takes no write lock."""
    mailbox.deliver(message("one"))
    inbox = mailbox.folder("INBOX")
    assert inbox.claim_recent() == frozenset({1})
    writer = sqlite3.connect(mailbox.index_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    conn = inbox.place.index.conn
    conn.execute("PRAGMA busy_timeout = 50")  # a wait for the lock fails at once instead of after 30 s
    try:
        assert mailbox.folder("INBOX").claim_recent() == frozenset()
    finally:
        conn.execute("PRAGMA busy_timeout = 30000")
        writer.execute("ROLLBACK")
        writer.close()
    mailbox.deliver(message("two"))
    assert mailbox.folder("INBOX").claim_recent() == frozenset({2})


def test_read_file_follows_a_renamed_file(mailbox):
    """POP3 reads by the name it listed at login; a flag change by another session renames the file."""
    uid = mailbox.deliver(message("renamed", body="body text\n"))[1]
    inbox = mailbox.folder("INBOX")
    inbox.claim_recent()  # new/ -> cur/
    names = inbox.file_names()
    expected = inbox.read(uid)
    assert inbox.read_file(uid, names[uid]) == expected
    inbox.store_flags([uid], ["\\Seen", "\\Answered"], "add")
    assert inbox.file_names()[uid] != names[uid]
    assert inbox.read_file(uid, names[uid]) == expected


def test_a_listing_a_session_holds_is_not_read_again_after_many_other_folders(store, monkeypatch):
    """A process serving more users than it keeps listings of (LISTINGS_KEPT) finds a listing a
    session still holds (its selected view) instead of reading the whole folder again."""
    import pytest

    from agents.store import folder as folder_module

    monkeypatch.setattr(folder_module, "LISTINGS_KEPT", 8)
    held_box = store.mailbox("held@example.com")
    held_box.deliver(message("kept"))
    held = held_box.folder("INBOX").listing()  # a selected session's view holds this
    for n in range(folder_module.LISTINGS_KEPT + 2):
        other = store.mailbox(f"user{n}@example.com")
        other.deliver(message(f"m{n}"))
        other.folder("INBOX").listing()
    with monkeypatch.context() as patch:
        patch.setattr(folder_module.Folder, "_all_metas", lambda *a: pytest.fail("read the whole folder again"))
        again = store.mailbox("held@example.com").folder("INBOX").listing()
    assert again is held


def test_listings_of_many_small_folders_are_kept_within_a_budget_of_messages(store, monkeypatch):
    """Many users of small folders (more than fit a count of large ones): each folder's listing is kept, so
    a change is caught up with, not read whole; past the budget of messages the oldest listing goes."""
    import pytest

    from agents.store import folder as folder_module

    folder_module.forget_listings()
    boxes = [store.mailbox(f"small{n}@example.com") for n in range(20)]
    for n, box in enumerate(boxes):
        for i in range(3):
            box.deliver(message(f"m{n}.{i}"))
        box.folder("INBOX").listing()  # made and dropped: nobody holds it
    for box in boxes:
        box.folder("INBOX").store_flags([1], ["\\Seen"], "add")
    with monkeypatch.context() as patch:
        patch.setattr(folder_module.Folder, "_all_metas", lambda *a: pytest.fail("read the whole folder again"))
        for box in boxes:
            assert box.folder("INBOX").listing().metas[0].flags == {"\\Seen"}
    monkeypatch.setattr(folder_module, "LISTING_MESSAGES_KEPT", 7)  # room for two folders of three messages
    store.mailbox("small0@example.com").folder("INBOX").store_flags([2], ["\\Seen"], "add")
    store.mailbox("small0@example.com").folder("INBOX").listing()
    assert len(folder_module._listings) == 2 and folder_module._kept_messages == 6
    calls = []
    real = folder_module.Folder._all_metas
    monkeypatch.setattr(folder_module.Folder, "_all_metas", lambda *a: calls.append(1) or real(*a))
    assert len(store.mailbox("small5@example.com").folder("INBOX").listing().metas) == 3
    assert calls == [1]  # dropped past the budget: read again


def test_read_file_with_the_index_size_still_turns_bare_line_feeds_into_crlf(mailbox):
    """A file dropped into the Maildir by another program may have bare LFs: the index's size is that of
    the CRLF form, so the file's own length tells it apart and it is converted."""
    inbox = mailbox.folder("INBOX")
    raw = b"From: x@example.org\nSubject: lf\n\nline one\nline two\n"
    (inbox.path / "new" / "1700000000.M1P1.other").write_bytes(raw)
    inbox.refresh()
    uid = inbox.uids()[-1]
    size = inbox.meta(uid).size
    crlf = raw.replace(b"\n", b"\r\n")
    assert size == len(crlf)
    assert inbox.read_file(uid, inbox.file_names()[uid], size) == crlf
    assert inbox.read_file(uid, inbox.file_names()[uid]) == crlf
    assert inbox.read(uid) == crlf  # IMAP's read: the same check against the index's size
