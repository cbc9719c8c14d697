"""Expunge removes files and index rows and logs the UIDs for changes_since."""

from __future__ import annotations

import os

from .conftest import message


def test_expunge_removes_only_deleted_messages(mailbox):
    for i in range(3):
        mailbox.deliver(message(f"m{i}"))
    inbox = mailbox.folder("INBOX")
    inbox.store_flags([1, 3], ["\\Deleted"], "add")
    assert inbox.expunge() == [1, 3]
    assert inbox.uids() == [2] and len(os.listdir(inbox.path / "cur")) + len(os.listdir(inbox.path / "new")) == 1


def test_expunge_of_given_uids_removes_exactly_those(mailbox):
    for i in range(3):
        mailbox.deliver(message(f"m{i}"))
    inbox = mailbox.folder("INBOX")
    assert inbox.expunge([2]) == [2]
    assert inbox.uids() == [1, 3]


def test_uid_expunge_needs_the_deleted_flag(mailbox):
    for i in range(2):
        mailbox.deliver(message(f"m{i}"))
    inbox = mailbox.folder("INBOX")
    inbox.store_flags([2], ["\\Deleted"], "add")
    assert inbox.expunge([1, 2], deleted_only=True) == [2]


def test_expunge_updates_usage_and_changes_since(mailbox):
    for i in range(2):
        mailbox.deliver(message(f"m{i}"))
    inbox = mailbox.folder("INBOX")
    before, mark, gone = mailbox.usage(), inbox.highestmodseq, inbox.meta(1).size
    inbox.expunge([1])
    assert mailbox.usage() == before - gone
    assert inbox.changes_since(mark).expunged == [1]


def test_uids_are_never_reused_after_expunge(mailbox):
    mailbox.deliver(message("a"))
    inbox = mailbox.folder("INBOX")
    inbox.expunge([1])
    assert mailbox.deliver(message("b"))[1] == 2
