"""Flags: index and Maildir file names agree; CONDSTORE's UNCHANGEDSINCE."""

from __future__ import annotations

import os

import pytest

from agents.store import StoreError

from .conftest import message


def _cur_names(folder):
    return sorted(os.listdir(folder.path / "cur"))


def test_adding_flags_renames_the_file_with_sorted_letters(mailbox):
    _, uid = mailbox.deliver(message())
    inbox = mailbox.folder("INBOX")
    result = inbox.store_flags([uid], ["\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted"], "add")
    assert result[0].flags == {"\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted"}
    assert _cur_names(inbox)[0].endswith(":2,DFRST")


def test_removing_and_replacing_flags(mailbox):
    _, uid = mailbox.deliver(message(), flags=["\\Seen", "\\Flagged"])
    inbox = mailbox.folder("INBOX")
    inbox.store_flags([uid], ["\\Flagged"], "remove")
    assert inbox.meta(uid).flags == {"\\Seen"}
    inbox.store_flags([uid], ["work"], "set")
    assert inbox.meta(uid).flags == {"work"} and _cur_names(inbox)[0].endswith(":2,")


def test_flag_change_bumps_modseq_only_when_something_changed(mailbox):
    _, uid = mailbox.deliver(message())
    inbox = mailbox.folder("INBOX")
    first = inbox.store_flags([uid], ["\\Seen"], "add")[0].modseq
    again = inbox.store_flags([uid], ["\\Seen"], "add")[0].modseq
    assert first == again == inbox.refresh()


def test_unchangedsince_refuses_messages_changed_later(mailbox):
    for i in range(2):
        mailbox.deliver(message(f"m{i}"))
    inbox = mailbox.folder("INBOX")
    old = inbox.highestmodseq
    inbox.store_flags([2], ["\\Flagged"], "add")
    result = inbox.store_flags([1, 2], ["\\Seen"], "add", unchangedsince=old)
    assert [m.uid for m in result] == [1] and result.modified == [2]


def test_unseen_counter_follows_seen_flag(mailbox):
    for i in range(3):
        mailbox.deliver(message(f"m{i}"))
    inbox = mailbox.folder("INBOX")
    inbox.store_flags([1, 2], ["\\Seen"], "add")
    inbox.refresh()
    assert inbox.unseen == 1 and inbox.first_unseen() == 3


def test_system_flags_are_canonical_and_recent_is_never_stored(mailbox):
    _, uid = mailbox.deliver(message())
    inbox = mailbox.folder("INBOX")
    inbox.store_flags([uid], ["\\SEEN", "\\Recent"], "set")
    assert inbox.meta(uid).flags == {"\\Seen"}


@pytest.mark.parametrize("bad", ["\\Bogus", "with space", "a(b", "a]b", 'q"uote', "x" * 200, ""])
def test_invalid_flags_are_refused(mailbox, bad):
    _, uid = mailbox.deliver(message())
    with pytest.raises(StoreError):
        mailbox.folder("INBOX").store_flags([uid], [bad], "add")


def test_unknown_uids_are_ignored(mailbox):
    mailbox.deliver(message())
    assert [m.uid for m in mailbox.folder("INBOX").store_flags([1, 99], ["\\Seen"], "add")] == [1]
