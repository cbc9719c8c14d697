"""changes_since for IDLE/untagged updates, and newest-first pages for webmail."""

from __future__ import annotations

import pytest

from agents.store import Store

from .conftest import message


def test_changes_since_reports_new_changed_and_expunged(mailbox):
    for i in range(3):
        mailbox.deliver(message(f"m{i}"))
    inbox = mailbox.folder("INBOX")
    mark = inbox.highestmodseq
    inbox.store_flags([1], ["\\Seen"], "add")
    inbox.expunge([2])
    mailbox.deliver(message("m3"))
    changes = inbox.changes_since(mark)
    assert [m.uid for m in changes.changed] == [1, 4] and changes.expunged == [2]


def test_another_session_sees_changes_after_refresh(store: Store):
    reader = store.mailbox("alice@example.com").folder("INBOX")
    before = reader.highestmodseq
    store.mailbox("alice@example.com").deliver(message("new one"))
    assert reader.exists == 0  # a snapshot until refreshed
    assert reader.poll() > before and reader.refresh() > before and reader.exists == 1


def test_page_is_newest_first_with_offset(mailbox):
    for i in range(7):
        mailbox.deliver(message(f"m{i}"))
    inbox = mailbox.folder("INBOX")
    assert [s.subject for s in inbox.page(0, 3)] == ["m6", "m5", "m4"]
    assert [s.subject for s in inbox.page(6, 3)] == ["m0"]
    assert [s.uid for s in inbox.page(0, 2, newest_first=False)] == [1, 2]


def test_count_and_recent(mailbox):
    for i in range(2):
        mailbox.deliver(message(f"m{i}"))
    inbox = mailbox.folder("INBOX")
    assert inbox.count() == 2 and inbox.recent == 2
    inbox.claim_recent()
    mailbox.deliver(message("m2"))
    inbox.refresh()
    assert inbox.recent == 1


def test_pages_sorted_by_header_fields(mailbox):
    for subject, sender in (("banana", "zed@x.org"), ("Apple", "amy@x.org"), ("cherry", "Bob@x.org")):
        mailbox.deliver(message(subject, sender=sender))
    inbox = mailbox.folder("INBOX")
    assert [s.subject for s in inbox.page(0, 10, newest_first=False, sort="subject")] == ["Apple", "banana", "cherry"]
    assert [s.subject for s in inbox.page(0, 1, newest_first=True, sort="from")] == ["banana"]
    assert [s.uid for s in inbox.page(1, 1, newest_first=False, sort="size")] != []


def test_unknown_sort_is_refused(mailbox):
    import pytest

    from agents.store import StoreError

    with pytest.raises(StoreError):
        mailbox.folder("INBOX").page(sort="uid; DROP TABLE messages")


def test_kept_listing_is_brought_up_to_date_by_other_sessions_changes(store: Store, monkeypatch):
    mailbox = store.mailbox("alice@example.com")
    for i in range(5):
        mailbox.deliver(message(f"m{i}"))
    session = mailbox.folder("INBOX")
    session.messages()  # kept by the process
    other = store.mailbox("alice@example.com")
    inbox = other.folder("INBOX")
    inbox.store_flags([2], ["\\Seen", "later"], "add")
    inbox.expunge([3])
    other.folder("Trash").append(message("t"))
    other.folder("Trash").move([1], inbox)
    other.deliver(message("m5"))
    session.refresh()
    from agents.store.folder import Folder, forget_listings

    with monkeypatch.context() as patch:
        patch.setattr(Folder, "_all_metas", lambda *a: pytest.fail("read the whole folder again"))
        updated = session.messages()  # the kept listing plus changes_since

    forget_listings()
    fresh = session.messages()  # read in full
    assert updated == fresh and [m.uid for m in fresh] == [1, 2, 4, 5, 6, 7]
    assert fresh[1].flags == {"\\Seen", "later"}
