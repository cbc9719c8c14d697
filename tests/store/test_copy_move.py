"""COPY and MOVE between folders of one mailbox."""

from __future__ import annotations

import os

from .conftest import message


def test_copy_gives_new_uids_and_keeps_flags_and_cached_data(mailbox):
    mailbox.deliver(message("keep me"), flags=["\\Seen", "important"])
    inbox = mailbox.folder("INBOX")
    mapping = inbox.copy([1], "Trash")
    trash = mailbox.folder("Trash")
    assert mapping == {1: 1} and inbox.uids() == [1]
    assert trash.meta(1).flags == {"\\Seen", "important"}
    assert trash.envelope(1)[1] == "keep me" and trash.read(1) == inbox.read(1)


def test_copy_uses_hard_links(mailbox):
    mailbox.deliver(message(), flags=["\\Seen"])
    mailbox.folder("INBOX").copy([1], "Trash")
    only = next((mailbox.path / ".Trash" / "cur").iterdir())
    assert os.stat(only).st_nlink == 2


def test_move_removes_source_and_logs_expunge(mailbox):
    for i in range(3):
        mailbox.deliver(message(f"m{i}"))
    inbox = mailbox.folder("INBOX")
    mark = inbox.highestmodseq
    mapping = inbox.move([1, 3], "Junk")
    assert mapping == {1: 1, 3: 2} and inbox.uids() == [2]
    assert inbox.changes_since(mark).expunged == [1, 3]
    assert [s.subject for s in mailbox.folder("Junk").page(newest_first=False)] == ["m0", "m2"]


def test_move_keeps_usage(mailbox):
    mailbox.deliver(message())
    before = mailbox.usage()
    mailbox.folder("INBOX").move([1], "Trash")
    assert mailbox.usage() == before and mailbox.folder("Trash").exists == 1


def test_copy_of_missing_uids_copies_nothing(mailbox):
    assert mailbox.folder("INBOX").copy([5, 6], "Trash") == {}
