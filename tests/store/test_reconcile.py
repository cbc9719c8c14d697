"""Files changed behind the store's back are noticed at the next refresh."""

from __future__ import annotations

import os
import time

from .conftest import message


def _settle():
    time.sleep(0.02)  # let the directory mtime move past our own last change


def test_file_dropped_into_new_by_hand_gets_the_next_uid(mailbox):
    mailbox.deliver(message("ours"))
    inbox = mailbox.folder("INBOX")
    _settle()
    (inbox.path / "new" / "1700000000.hand.host").write_bytes(message("dropped"))
    inbox.refresh()
    assert inbox.uids() == [1, 2] and inbox.summaries([2])[0].subject == "dropped"


def test_file_dropped_into_cur_keeps_its_flags(mailbox):
    inbox = mailbox.folder("INBOX")
    _settle()
    (inbox.path / "cur" / "1700000001.hand.host:2,FS").write_bytes(message("flagged"))
    inbox.refresh()
    assert inbox.messages()[0].flags == {"\\Flagged", "\\Seen"} and inbox.unseen == 0


def test_hand_dropped_lf_file_is_read_with_crlf_and_matching_size(mailbox):
    inbox = mailbox.folder("INBOX")
    _settle()
    (inbox.path / "new" / "1700000002.hand.host").write_bytes(b"Subject: lf\n\nline\n")
    inbox.refresh()
    assert inbox.read(1) == b"Subject: lf\r\n\r\nline\r\n" and inbox.meta(1).size == 21


def test_deleted_file_raises_message_gone_then_is_dropped(mailbox):
    import pytest

    from agents.store import MessageGone

    mailbox.deliver(message("a"))
    mailbox.deliver(message("b"))
    inbox = mailbox.folder("INBOX")
    _settle()
    mark = inbox.highestmodseq
    victim = next(p for p in (inbox.path / "new").iterdir() if b"Subject: a" in p.read_bytes())
    victim.unlink()
    with pytest.raises(MessageGone):
        inbox.read(1)
    inbox.refresh()
    assert inbox.uids() == [2] and inbox.changes_since(mark).expunged == [1]


def test_flags_changed_by_renaming_like_mutt_are_taken_from_the_file(mailbox):
    mailbox.deliver(message(), flags=["\\Seen", "todo"])
    inbox = mailbox.folder("INBOX")
    _settle()
    old = next((inbox.path / "cur").iterdir())
    os.rename(old, old.with_name(old.name.replace(":2,S", ":2,FS")))
    inbox.refresh()
    assert inbox.meta(1).flags == {"\\Seen", "\\Flagged", "todo"}


def test_refresh_without_changes_does_not_rescan(mailbox, monkeypatch):
    mailbox.deliver(message())
    inbox = mailbox.folder("INBOX")
    calls = []
    monkeypatch.setattr(type(inbox), "rescan", lambda self: calls.append(1))
    inbox.refresh()
    inbox.refresh()
    assert calls == []


def test_missing_folder_directory_does_not_crash(mailbox):
    import shutil

    mailbox.deliver(message())
    inbox = mailbox.folder("INBOX")
    shutil.rmtree(inbox.path / "cur")
    shutil.rmtree(inbox.path / "new")
    inbox.refresh()
    assert inbox.exists == 0


def test_rescan_removes_stale_tmp_files_only(mailbox):
    inbox = mailbox.folder("INBOX")
    stale, fresh = inbox.path / "tmp" / "stale", inbox.path / "tmp" / "fresh"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"being written")
    os.utime(stale, (time.time() - 40 * 3600,) * 2)
    inbox.rescan()
    assert not stale.exists() and fresh.exists()


def test_many_mailboxes_in_one_thread_keep_few_connections(store, monkeypatch):
    from agents.store import index

    monkeypatch.setattr(index, "MAX_OPEN", 3)
    for i in range(6):
        store.mailbox(f"user{i}@example.com").deliver(message(f"m{i}"))
    assert len(index._local.cache) <= 3
    assert store.mailbox("user0@example.com").folder("INBOX").exists == 1
