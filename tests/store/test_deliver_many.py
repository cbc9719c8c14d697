"""Group commit: ``MailboxStore.deliver_many`` stores a batch once per key, with one index commit."""

from __future__ import annotations

import os

from agents.store import InvalidFolderName, fulltext, maildir

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


def test_a_batch_gives_each_message_its_own_uid_modseq_keywords_and_search_text(mailbox):
    """One batch to one folder is indexed with shared statements; each message still gets what a single
    delivery would give it."""
    before = mailbox.folder("INBOX").highestmodseq
    results = mailbox.deliver_many([(message(f"m{n}", body=f"word{n} common\n"), f"q{n}:alice", "INBOX",
                                     ("$Label1",) if n == 2 else ()) for n in range(5)])
    assert results == [("INBOX", uid) for uid in range(1, 6)]
    inbox = mailbox.folder("INBOX")
    modseqs = [inbox.meta(uid).modseq for uid in range(1, 6)]
    assert modseqs == list(range(before + 1, before + 6)) and inbox.highestmodseq == before + 5
    assert inbox.meta(3).flags == {"$Label1"} and "$Label1" in inbox.keywords()
    assert [inbox.search_text(f"word{n}") for n in range(5)] == [[1], [2], [3], [4], [5]]
    assert inbox.search_text("common") == [1, 2, 3, 4, 5]
    assert inbox.exists == 5 and inbox.unseen == 5 and len(_files(inbox)) == 5
    assert mailbox.usage() == sum(inbox.meta(uid).size for uid in range(1, 6))


def test_stale_search_text_of_a_reused_folder_id_is_replaced(mailbox):
    """Rows left in the full-text tables for UIDs a batch now takes (a folder id used again) are forgotten
    first, as a single delivery forgets them."""
    inbox = mailbox.folder("INBOX")
    conn = mailbox._index.conn
    for uid in (1, 2):
        key = fulltext.rowid(inbox.id, uid)
        conn.execute("INSERT INTO fulltext_text (id, head, body) VALUES (?, '', 'stalewordzz')", (key,))
        conn.execute("INSERT INTO fulltext_pending (id) VALUES (?)", (key,))
    mailbox.deliver_many([(message("a", body="fresh one\n"), "q1:alice", "INBOX", ()),
                          (message("b", body="fresh two\n"), "q2:alice", "INBOX", ())])
    inbox = mailbox.folder("INBOX")
    assert inbox.search_text("stalewordzz") == [] and inbox.search_text("fresh") == [1, 2]


def test_a_file_indexed_by_a_rescan_and_flagged_since_is_adopted_once(mailbox):
    """The batch died after the rename; a rescan indexed the file and a client moved it to cur/ with \\Seen.
    The retry finds it in the index (not where a new file would go) and stores no second copy."""
    inbox = mailbox.folder("INBOX")
    uniq = maildir.keyed_name("q1:alice")
    tmp = mailbox._delivery_write(inbox, uniq, maildir.to_crlf(message("early")))
    os.rename(tmp, inbox.path / "new" / uniq)
    inbox.rescan()
    inbox.store_flags([1], ["\\Seen"], "add")
    assert not (inbox.path / "new" / uniq).exists()
    results = mailbox.deliver_many([(message("early"), "q1:alice", "INBOX", ()),
                                    (message("late"), "q2:alice", "INBOX", ())])
    assert results == [("INBOX", 1), ("INBOX", 2)]
    assert len(_files(inbox)) == 2 and mailbox.folder("INBOX").exists == 2
    assert mailbox.deliver_many([(message("early"), "q1:alice", "INBOX", ())]) == [("INBOX", 1)]
