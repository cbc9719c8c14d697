"""``Folder.refresh`` skips the folder row when the index's change counters and the directories did not move,
and sees every change when they did: another process's commit, another thread's, its own connection's, and a
file dropped into the Maildir by another program."""

from __future__ import annotations

import sqlite3
import threading

from .conftest import message


def test_nothing_changed_costs_no_query(mailbox, monkeypatch):
    inbox = mailbox.folder("INBOX")
    inbox.refresh()
    calls = []
    real = type(inbox)._load
    monkeypatch.setattr(type(inbox), "_load", lambda self: calls.append(1) or real(self))
    for _ in range(5):
        inbox.refresh()
    assert calls == []


def test_a_commit_by_another_process_is_seen(mailbox):
    inbox = mailbox.folder("INBOX")
    before = inbox.refresh()
    with sqlite3.connect(mailbox.index_path) as conn:  # another process's connection
        conn.execute("UPDATE folders SET highestmodseq = highestmodseq + 5 WHERE name = 'INBOX'")
    assert inbox.refresh() == before + 5


def test_a_commit_by_another_thread_and_by_this_connection_is_seen(mailbox):
    """Keywords rename no file, so no directory moves: only the counters tell these changes."""
    mailbox.deliver(message("one"))
    inbox = mailbox.folder("INBOX")
    inbox.store_flags([1], ["\\Seen"], "add")  # into cur/: later keyword changes rename nothing
    before = inbox.refresh()
    worker = threading.Thread(target=lambda: mailbox.folder("INBOX").store_flags([1], ["$a"], "add"))
    worker.start()
    worker.join()
    assert inbox.refresh() == before + 1
    other = mailbox.folder("INBOX")  # another folder object on this thread's connection
    other.store_flags([1], ["$b"], "add")
    assert inbox.refresh() == before + 2


def test_a_file_dropped_into_the_maildir_is_adopted(mailbox):
    inbox = mailbox.folder("INBOX")
    inbox.refresh()
    (inbox.path / "new" / "1700000000.M1P1.other").write_bytes(message("dropped"))
    inbox.refresh()
    assert inbox.exists == 1
