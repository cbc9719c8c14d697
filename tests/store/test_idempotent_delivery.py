"""Exactly-once delivery per delivery key, including after a crash at every step.

A crash is simulated by running the first steps of ``deliver`` by hand and
stopping, then calling ``deliver`` again as the retry would.
"""

from __future__ import annotations

import os

from agents.store import Store

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


def test_crash_after_recording_the_key(mailbox):
    mailbox._delivery_begin(KEY, "INBOX", 10)
    assert mailbox.deliver(message(), delivery_key=KEY) == ("INBOX", 1)
    assert len(_files(mailbox)) == 1


def test_crash_after_writing_tmp(mailbox):
    folder, uniq, _ = mailbox._delivery_begin(KEY, "INBOX", 10)
    inbox = mailbox.folder(folder)
    mailbox._delivery_write(inbox, uniq, message())
    assert mailbox.deliver(message(), delivery_key=KEY) == ("INBOX", 1)
    assert len(_files(mailbox)) == 1 and mailbox.folder("INBOX").exists == 1


def test_crash_between_rename_and_index_commit(mailbox):
    folder, uniq, _ = mailbox._delivery_begin(KEY, "INBOX", 10)
    inbox = mailbox.folder(folder)
    tmp = mailbox._delivery_write(inbox, uniq, message())
    os.rename(tmp, inbox.path / "new" / uniq)  # the rename happened, the commit did not
    assert mailbox.deliver(message(), delivery_key=KEY) == ("INBOX", 1)
    assert len(_files(mailbox)) == 1 and mailbox.folder("INBOX").exists == 1


def test_crash_between_rename_and_commit_when_a_reader_rescanned_first(store: Store):
    mailbox = store.mailbox("alice@example.com")
    folder, uniq, _ = mailbox._delivery_begin(KEY, "INBOX", 10)
    inbox = mailbox.folder(folder)
    tmp = mailbox._delivery_write(inbox, uniq, message())
    os.rename(tmp, inbox.path / "new" / uniq)
    inbox.rescan()  # an IMAP session adopted the file before the retry
    assert store.mailbox("alice@example.com").deliver(message(), delivery_key=KEY) == ("INBOX", 1)
    assert mailbox.folder("INBOX").exists == 1


def test_crash_after_commit_before_the_caller_noted_it(mailbox):
    folder, uniq, _ = mailbox._delivery_begin(KEY, "Sent", 10)
    target = mailbox.folder(folder)
    tmp = mailbox._delivery_write(target, uniq, message())
    uid = mailbox._delivery_commit(target, KEY, uniq, tmp, message(), frozenset(), None)
    assert mailbox.deliver(message(), "INBOX", delivery_key=KEY) == ("Sent", uid)
    assert mailbox.folder("INBOX").exists == 0


def test_different_keys_store_twice(mailbox):
    assert mailbox.deliver(message(), delivery_key="a")[1] == 1
    assert mailbox.deliver(message(), delivery_key="b")[1] == 2
