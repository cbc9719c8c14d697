"""Delivering a message and reading it back."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from agents.store import Store

from .conftest import message


def test_delivered_message_is_read_back_with_crlf_and_its_size(mailbox):
    folder_name, uid = mailbox.deliver(message("First"))
    inbox = mailbox.folder("INBOX")
    data = inbox.read(uid)
    assert (folder_name, uid) == ("INBOX", 1)
    assert b"Subject: First\r\n" in data and len(data) == inbox.meta(uid).size


def test_delivery_lands_in_new_and_flags_send_it_to_cur(mailbox):
    mailbox.deliver(message("unread"))
    mailbox.deliver(message("read"), flags=["\\Seen"])
    assert len(os.listdir(mailbox.path / "new")) == 1
    assert [n.endswith(":2,S") for n in os.listdir(mailbox.path / "cur")] == [True]


def test_mailbox_path_is_domain_then_local_part_lowercased(store: Store):
    mailbox = store.mailbox("Alice@Example.COM")
    assert mailbox.path == store.root / "example.com" / "alice"
    assert (mailbox.path / "mailapp-index.sqlite").exists()


def test_internal_date_is_kept_and_set_on_the_file(mailbox):
    when = datetime(2020, 5, 17, 12, 30, tzinfo=UTC)
    _, uid = mailbox.deliver(message(), internaldate=when)
    inbox = mailbox.folder("INBOX")
    assert inbox.meta(uid).internaldate == when
    assert int(os.stat(next((mailbox.path / "new").iterdir())).st_mtime) == int(when.timestamp())


def test_delivery_to_a_missing_folder_creates_it(mailbox):
    assert mailbox.deliver(message(), folder="Lists/python") == ("Lists/python", 1)
    assert (mailbox.path / ".Lists.python" / "maildirfolder").exists()


def test_counters_and_usage_follow_deliveries(mailbox):
    for i in range(3):
        mailbox.deliver(message(f"m{i}"), flags=["\\Seen"] if i == 0 else [])
    inbox = mailbox.folder("INBOX")
    assert (inbox.exists, inbox.unseen, inbox.uidnext) == (3, 2, 4)
    assert mailbox.usage() == sum(m.size for m in inbox.messages())


def test_append_keeps_keywords_in_the_index(mailbox):
    drafts = mailbox.folder("Drafts")
    uid = drafts.append(message(), ["\\Draft", "$Forwarded"])
    assert drafts.meta(uid).flags == {"\\Draft", "$Forwarded"}
    assert drafts.keywords() == ["$Forwarded"]


def test_delivery_drops_invalid_flags_instead_of_refusing_mail(mailbox):
    _, uid = mailbox.deliver(message(), flags=["\\Seen", "bad keyword", "\\Bogus", "$Label1"])
    assert mailbox.folder("INBOX").meta(uid).flags == {"\\Seen", "$Label1"}


def test_append_refuses_invalid_flags(mailbox):
    import pytest

    from agents.store import InvalidFlag

    with pytest.raises(InvalidFlag):
        mailbox.folder("INBOX").append(message(), ["bad keyword"])
