"""UIDs and UIDVALIDITY survive reopening; a lost index gets a new UIDVALIDITY."""

from __future__ import annotations

import os

from agents.store import Store

from .conftest import message


def test_uids_are_stable_across_reopen(store: Store):
    mailbox = store.mailbox("alice@example.com")
    for i in range(3):
        mailbox.deliver(message(f"m{i}"))
    first = mailbox.folder("INBOX")
    first.claim_recent()  # moves the files new/ -> cur/, which must not change UIDs
    again = Store(store.root).mailbox("alice@example.com").folder("INBOX")
    assert [(m.uid, m.key) for m in again.messages()] == [(m.uid, m.key) for m in first.messages()]
    assert again.uidvalidity == first.uidvalidity and again.uidnext == 4


def test_each_folder_has_its_own_uidvalidity(mailbox):
    values = {mailbox.folder(f.name).uidvalidity for f in mailbox.list_folders()}
    assert len(values) == len(mailbox.list_folders())


def test_lost_index_means_a_new_uidvalidity_and_messages_are_found_again(store: Store):
    mailbox = store.mailbox("alice@example.com")
    mailbox.deliver(message())
    old = mailbox.folder("INBOX").uidvalidity
    from agents.store.index import forget

    forget(mailbox.index_path)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(mailbox.index_path) + suffix):
            os.unlink(str(mailbox.index_path) + suffix)
    inbox = store.mailbox("alice@example.com").folder("INBOX")
    assert inbox.uidvalidity != old and inbox.exists == 1


def test_recent_is_claimed_once(mailbox):
    mailbox.deliver(message("a"))
    first = mailbox.folder("INBOX")
    assert first.claim_recent() == {1}
    assert mailbox.folder("INBOX").claim_recent() == frozenset()
    assert os.listdir(mailbox.path / "new") == []


def test_corrupt_index_is_set_aside_and_rebuilt_from_the_maildir(store: Store):
    from agents.store.index import forget

    mailbox = store.mailbox("alice@example.com")
    mailbox.deliver(message("survivor"))
    old = mailbox.folder("INBOX").uidvalidity
    forget(mailbox.index_path)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(str(mailbox.index_path) + suffix):
            os.unlink(str(mailbox.index_path) + suffix)
    mailbox.index_path.write_bytes(b"this is not an SQLite database" * 100)
    inbox = store.mailbox("alice@example.com").folder("INBOX")
    assert inbox.uidvalidity > old and [s.subject for s in inbox.page()] == ["survivor"]
    assert any(p.name.startswith("mailapp-index.sqlite.corrupt-") for p in mailbox.path.iterdir())
