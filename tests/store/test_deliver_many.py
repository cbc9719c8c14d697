"""Group commit: ``MailboxStore.deliver_many`` stores a batch once per key, with one index commit."""

from __future__ import annotations

import os

from agents.store import InvalidFolderName, maildir

from .conftest import message


def _files(folder) -> list[str]:
    return sorted(os.listdir(folder.path / "new")) + sorted(os.listdir(folder.path / "cur"))


def test_a_batch_lands_in_its_folders_in_order(mailbox):
    results = mailbox.deliver_many([
        (message("one"), "q1:alice", "INBOX", ()),
        (message("two"), "q2:alice", "Lists/dev", ("\\Seen",)),
        (message("three"), "q3:alice", "INBOX", ()),
    ])
    assert results == [("INBOX", 1), ("Lists/dev", 1), ("INBOX", 2)]
    inbox, lists = mailbox.folder("INBOX"), mailbox.folder("Lists/dev")
    assert sorted(s.subject for s in inbox.summaries([1, 2])) == ["one", "three"]
    assert lists.meta(1).flags == {"\\Seen"} and len(_files(lists)) == 1
    assert inbox.exists == 2 and len(_files(inbox)) == 2


def test_each_key_is_stored_once_within_a_batch_and_across_retries(mailbox):
    batch = [(message("a"), "q1:alice", "INBOX", ()), (message("a"), "q1:alice", "INBOX", ()),
             (message("b"), "q2:alice", "INBOX", ())]
    first = mailbox.deliver_many(batch)
    assert first == [("INBOX", 1), ("INBOX", 1), ("INBOX", 2)]
    assert mailbox.deliver_many(batch) == first  # the retry of a batch whose outcome was not recorded
    assert mailbox.deliver(message("b"), delivery_key="q2:alice") == ("INBOX", 2)  # one key space with deliver()
    assert len(_files(mailbox.folder("INBOX"))) == 2


def test_a_bad_folder_fails_its_item_only(mailbox):
    results = mailbox.deliver_many([(message("x"), "q1:alice", "bad\x01name", ()),
                                    (message("y"), "q2:alice", "INBOX", ())])
    assert isinstance(results[0], InvalidFolderName) and results[1] == ("INBOX", 1)
    assert mailbox.deliver_many([(message("x"), "q1:alice", "INBOX", ())]) == [("INBOX", 2)]


def test_a_file_renamed_before_a_crash_is_adopted_by_the_batch_retry(mailbox):
    """The batch died after renaming a file into new/ and before the index commit."""
    inbox = mailbox.folder("INBOX")
    uniq = maildir.keyed_name("q1:alice")
    tmp = mailbox._delivery_write(inbox, uniq, maildir.to_crlf(message("early")))
    os.rename(tmp, inbox.path / "new" / uniq)
    results = mailbox.deliver_many([(message("early"), "q1:alice", "INBOX", ()),
                                    (message("late"), "q2:alice", "INBOX", ())])
    assert results == [("INBOX", 1), ("INBOX", 2)]
    assert len(_files(inbox)) == 2 and mailbox.folder("INBOX").exists == 2
