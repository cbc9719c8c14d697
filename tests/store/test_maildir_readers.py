"""Other Maildir readers (Python's mailbox module, which follows the same spec as mutt) see the store's tree."""

from __future__ import annotations

import mailbox as stdlib_mailbox

from .conftest import message


def test_stdlib_maildir_lists_folders_messages_and_flags(mailbox):
    mailbox.deliver(message("unread"))
    mailbox.deliver(message("read and flagged"), flags=["\\Seen", "\\Flagged"])
    mailbox.deliver(message("filed"), folder="Lists/python")
    reader = stdlib_mailbox.Maildir(mailbox.path, create=False)
    assert sorted(reader.list_folders()) == ["Drafts", "Junk", "Lists.python", "Sent", "Trash"]
    by_subject = {m["subject"]: m for m in reader}
    assert by_subject["unread"].get_subdir() == "new"
    assert by_subject["read and flagged"].get_flags() == "FS"
    assert [m["subject"] for m in reader.get_folder("Lists.python")] == ["filed"]


def test_flags_set_by_another_maildir_client_are_picked_up(mailbox):
    import time

    mailbox.deliver(message("x"), flags=["\\Seen"])
    inbox = mailbox.folder("INBOX")
    time.sleep(0.02)
    reader = stdlib_mailbox.Maildir(mailbox.path, create=False)
    key = next(iter(reader.keys()))
    msg = reader[key]
    msg.add_flag("R")
    reader[key] = msg  # rewrites the message under a new name with :2,RS, as a client may
    inbox.refresh()
    assert [m.flags for m in inbox.messages()] == [{"\\Seen", "\\Answered"}]
