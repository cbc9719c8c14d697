"""\\Recent is claimed up to the UID a session is about to be told of; later messages stay unclaimed."""

from __future__ import annotations

from .conftest import message


def test_claim_up_to_a_uid_leaves_later_messages_recent(mailbox):
    for i in range(4):
        mailbox.deliver(message(f"m{i}"))
    first = mailbox.folder("INBOX")
    assert first.claim_recent(upto=2) == {1, 2}
    assert first.first_recent == 3 and first.recent == 2
    other = mailbox.folder("INBOX")
    assert other.claim_recent(upto=2) == frozenset()  # already claimed
    assert other.claim_recent() == {3, 4}
    assert mailbox.folder("INBOX").recent == 0


def test_expunged_since_lists_every_expunged_uid(mailbox):
    for i in range(3):
        mailbox.deliver(message(f"m{i}"))
    inbox = mailbox.folder("INBOX")
    before = inbox.refresh()
    inbox.expunge([2])
    inbox.expunge([3])
    assert inbox.expunged_since(before) == [2, 3]
    assert inbox.expunged_since(inbox.refresh()) == []
