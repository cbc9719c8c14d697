"""Creating, listing, renaming, deleting and subscribing folders."""

from __future__ import annotations

import pytest

from agents.store import FolderExists, FolderNotFound, StoreError

from .conftest import message


def _names(mailbox):
    return [f.name for f in mailbox.list_folders()]


def test_new_mailbox_has_inbox_and_special_use_folders(mailbox):
    info = {f.name: f for f in mailbox.list_folders()}
    assert _names(mailbox) == ["INBOX", "Drafts", "Junk", "Sent", "Trash"]
    assert info["Sent"].special_use == "\\Sent" and info["Trash"].subscribed
    assert all((mailbox.path / d / "maildirfolder").exists() for d in (".Sent", ".Drafts", ".Junk", ".Trash"))


def test_create_and_refuse_duplicates(mailbox):
    mailbox.create_folder("Work/2026")
    with pytest.raises(FolderExists):
        mailbox.create_folder("Work/2026")
    with pytest.raises(FolderExists):
        mailbox.create_folder("inbox")
    assert (mailbox.path / ".Work.2026" / "cur").is_dir()


def test_open_missing_folder_raises(mailbox):
    with pytest.raises(FolderNotFound):
        mailbox.folder("Nope")


def test_rename_moves_children_and_keeps_uids(mailbox):
    mailbox.deliver(message("a"), folder="Work")
    mailbox.deliver(message("b"), folder="Work/Old")
    validity = mailbox.folder("Work").uidvalidity
    mailbox.subscribe("Work/Old")
    mailbox.rename_folder("Work", "Archive/Work")
    assert "Archive/Work" in _names(mailbox) and "Archive/Work/Old" in _names(mailbox) and "Work" not in _names(mailbox)
    moved = mailbox.folder("Archive/Work")
    assert moved.uidvalidity == validity and moved.uids() == [1]
    assert "Archive/Work/Old" in mailbox.subscriptions()


def test_rename_into_itself_or_onto_existing_is_refused(mailbox):
    mailbox.create_folder("A")
    with pytest.raises(StoreError):
        mailbox.rename_folder("A", "A/B")
    with pytest.raises(FolderExists):
        mailbox.rename_folder("A", "Sent")


def test_rename_inbox_moves_its_messages(mailbox):
    mailbox.deliver(message("x"))
    mailbox.rename_folder("INBOX", "Old mail")
    assert mailbox.folder("INBOX").exists == 0 and mailbox.folder("Old mail").exists == 1


def test_delete_removes_folder_and_usage(mailbox):
    mailbox.deliver(message(), folder="Tmp")
    mailbox.delete_folder("Tmp")
    assert "Tmp" not in _names(mailbox) and mailbox.usage() == 0
    assert not any(p.name.startswith("mailapp-deleted") for p in mailbox.path.iterdir())


def test_inbox_cannot_be_deleted(mailbox):
    with pytest.raises(StoreError):
        mailbox.delete_folder("INBOX")


def test_deleted_special_folder_comes_back_empty_on_next_open(store):
    mailbox = store.mailbox("alice@example.com")
    mailbox.deliver(message(), folder="Trash")
    mailbox.delete_folder("Trash")
    assert "Trash" not in _names(mailbox)
    again = store.mailbox("alice@example.com")
    assert "Trash" in _names(again) and again.folder("Trash").exists == 0


def test_recreated_folder_gets_a_new_uidvalidity(mailbox):
    mailbox.create_folder("Tmp")
    old = mailbox.folder("Tmp").uidvalidity
    mailbox.delete_folder("Tmp")
    mailbox.create_folder("Tmp")
    assert mailbox.folder("Tmp").uidvalidity > old


def test_subscriptions_are_kept_in_a_dovecot_file(mailbox):
    mailbox.create_folder("Lists/python")
    mailbox.subscribe("Lists/python")
    mailbox.subscribe("Junk", on=False)
    lines = (mailbox.path / "subscriptions").read_text().split()
    assert "Lists.python" in lines and "Junk" not in lines
    assert {f.name: f.subscribed for f in mailbox.list_folders()}["Junk"] is False


def test_folder_made_by_hand_is_adopted(mailbox):
    for sub in ("cur", "new", "tmp"):
        (mailbox.path / ".FromMutt" / sub).mkdir(parents=True)
    assert "FromMutt" in _names(mailbox) and mailbox.folder("FromMutt").exists == 0


def test_open_folder_follows_a_rename_by_another_session(store):
    mailbox = store.mailbox("alice@example.com")
    mailbox.deliver(message("kept"), folder="Projects")
    selected = mailbox.folder("Projects")
    store.mailbox("alice@example.com").rename_folder("Projects", "Done")
    selected.refresh()
    assert selected.name == "Done" and selected.uids() == [1] and selected.read(1)


def test_open_folder_deleted_by_another_session_raises_on_refresh(store):
    selected = store.mailbox("alice@example.com").folder("Trash")
    store.mailbox("alice@example.com").delete_folder("Trash")
    with pytest.raises(FolderNotFound):
        selected.refresh()
