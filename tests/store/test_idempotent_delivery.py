"""Exactly-once delivery per delivery key, including after a crash at every step.

A crash is simulated by running the first steps of ``deliver`` by hand and
stopping, then calling ``deliver`` again as the retry would.
"""

from __future__ import annotations

import os

from agents.store import Store, maildir

from .conftest import message

KEY = "Q123:alice@example.com"


def _files(mailbox):
    return sorted(os.listdir(mailbox.path / "new")) + sorted(os.listdir(mailbox.path / "cur"))


def test_second_call_with_the_same_key_stores_nothing(mailbox):
    first = mailbox.deliver(message(), delivery_key=KEY)
    second = mailbox.deliver(message(), delivery_key=KEY)
    assert first == second == ("INBOX", 1) and len(_files(mailbox)) == 1


def test_same_key_returns_first_result_even_after_expunge(mailbox):
    mailbox.deliver(message(), delivery_key=KEY)
    mailbox.folder("INBOX").expunge([1])
    assert mailbox.deliver(message(), delivery_key=KEY) == ("INBOX", 1)
    assert _files(mailbox) == []


def _steps(mailbox, folder="INBOX", raw=None):
    """The first delivery attempt up to its commit: (target folder, unique name, tmp file)."""
    raw = raw or message()
    target = mailbox._delivery_folder(folder)
    uniq = maildir.keyed_name(KEY)
    return target, uniq, mailbox._delivery_write(target, uniq, maildir.to_crlf(raw))


def test_crash_after_writing_tmp(mailbox):
    _steps(mailbox)
    assert mailbox.deliver(message(), delivery_key=KEY) == ("INBOX", 1)
    assert len(_files(mailbox)) == 1 and mailbox.folder("INBOX").exists == 1


def test_crash_between_rename_and_index_commit(mailbox):
    target, uniq, tmp = _steps(mailbox)
    os.rename(tmp, target.path / "new" / uniq)  # the rename happened, the commit did not
    assert mailbox.deliver(message(), delivery_key=KEY) == ("INBOX", 1)
    assert len(_files(mailbox)) == 1 and mailbox.folder("INBOX").exists == 1


def test_crash_between_rename_and_commit_with_flags(mailbox):
    target, uniq, tmp = _steps(mailbox, "Sent")
    os.rename(tmp, target.path / "cur" / maildir.file_name(uniq, frozenset({"\\Seen"})))
    assert mailbox.deliver(message(), "Sent", ["\\Seen"], delivery_key=KEY) == ("Sent", 1)
    assert mailbox.folder("Sent").exists == 1 and mailbox.folder("Sent").meta(1).flags == {"\\Seen"}


def test_crash_between_rename_and_commit_when_a_reader_rescanned_first(store: Store):
    mailbox = store.mailbox("alice@example.com")
    target, uniq, tmp = _steps(mailbox)
    os.rename(tmp, target.path / "new" / uniq)
    target.rescan()  # an IMAP session adopted the file before the retry
    target.claim_recent()  # ... and moved it to cur/
    assert store.mailbox("alice@example.com").deliver(message(), delivery_key=KEY) == ("INBOX", 1)
    assert mailbox.folder("INBOX").exists == 1 and len(_files(mailbox)) == 1


def test_crash_after_commit_before_the_caller_noted_it(mailbox):
    target, uniq, tmp = _steps(mailbox, "Sent")
    first = mailbox._delivery_commit(target, KEY, uniq, tmp, maildir.to_crlf(message()), frozenset(), None)
    assert mailbox.deliver(message(), "INBOX", delivery_key=KEY) == first == ("Sent", 1)
    assert mailbox.folder("INBOX").exists == 0


def test_two_attempts_racing_store_one_copy(mailbox):
    target, uniq, first_tmp = _steps(mailbox)
    _, _, second_tmp = _steps(mailbox)
    data = maildir.to_crlf(message())
    first = mailbox._delivery_commit(target, KEY, uniq, first_tmp, data, frozenset(), None)
    second = mailbox._delivery_commit(target, KEY, uniq, second_tmp, data, frozenset(), None)
    assert first == second and len(_files(mailbox)) == 1 and os.listdir(target.path / "tmp") == []


def test_retry_with_a_slightly_different_copy_after_a_crash_stores_one(mailbox):
    target, uniq, tmp = _steps(mailbox)
    os.rename(tmp, target.path / "new" / uniq)
    retry = b"Received: by worker2; Mon, 23 Nov 2026 10:00:01 +0000\r\n" + message()
    assert mailbox.deliver(retry, delivery_key=KEY) == ("INBOX", 1)
    assert len(_files(mailbox)) == 1


def test_different_keys_store_twice(mailbox):
    assert mailbox.deliver(message(), delivery_key="a")[1] == 1
    assert mailbox.deliver(message(), delivery_key="b")[1] == 2
