"""Folder names that could escape the mailbox or confuse Maildir++ are refused."""

from __future__ import annotations

import pytest

from agents.store import InvalidFolderName
from agents.store.names import dirname, from_dirname, normalize

ATTACKS = ["../x", "..", ".", "/etc", "a/../../b", "a/", "a//b", ".hidden", "a/.b", "x\x00y", "tab\there",
           "star*", "per%cent", "back\\slash", "", " ", "a" * 300, "ü" * 100, "\ud800"]  # fmt: skip


@pytest.mark.parametrize("name", ATTACKS)
def test_hostile_names_are_refused(mailbox, name):
    with pytest.raises(InvalidFolderName):
        mailbox.create_folder(name)


@pytest.mark.parametrize("name", ["../x", "/etc", "..", ".hidden", "x\x00y"])
def test_hostile_names_are_refused_for_delivery_and_open(mailbox, name):
    with pytest.raises(InvalidFolderName):
        mailbox.deliver(b"Subject: x\r\n\r\n", folder=name)
    with pytest.raises(InvalidFolderName):
        mailbox.folder(name)


def test_nothing_was_created_outside_the_mailbox(mailbox):
    for name in ATTACKS:
        with pytest.raises(InvalidFolderName):
            mailbox.create_folder(name)
    assert sorted(p.name for p in mailbox.path.parent.iterdir()) == ["alice"]


def test_unicode_names_are_stored_in_modified_utf7_like_dovecot():
    assert dirname("Entwürfe/日本") == ".Entw&APw-rfe.&ZeVnLA-"
    assert from_dirname(".Entw&APw-rfe.&ZeVnLA-") == "Entwürfe/日本"


def test_a_non_canonical_directory_name_is_not_a_folder():
    # ".&AGEAYgBj-" would decode to "abc", the folder that lives in ".abc": only one of them is it.
    assert from_dirname(".&AGEAYgBj-") is None
    assert from_dirname(".abc") == "abc"


def test_inbox_is_case_insensitive_and_other_names_are_not():
    assert normalize("inbox") == "INBOX" and normalize("InBox/Sub") == "INBOX/Sub"
    assert normalize("Sent") == "Sent" and normalize("sent") == "sent"


def test_unicode_folder_is_usable(mailbox):
    mailbox.create_folder("Entwürfe")
    mailbox.deliver(b"Subject: x\r\n\r\nbody\r\n", folder="Entwürfe")
    assert "Entwürfe" in [f.name for f in mailbox.list_folders()]
    assert (mailbox.path / ".Entw&APw-rfe" / "maildirfolder").exists()


def test_directories_that_are_not_folders_are_ignored(mailbox):
    (mailbox.path / ".bad..name").mkdir()
    (mailbox.path / ".&broken").mkdir()
    assert from_dirname(".bad..name") is None and from_dirname(".&broken") is None
    assert [f.name for f in mailbox.list_folders()] == ["INBOX", "Drafts", "Junk", "Sent", "Trash"]
