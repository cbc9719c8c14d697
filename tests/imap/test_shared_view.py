"""Sessions of one process share a folder's listing; each still sees its own, correctly numbered, view."""

from __future__ import annotations

from tests.imap.conftest import message


def test_several_expunges_are_numbered_one_after_the_other(imap_server):
    for n in range(6):
        imap_server.deliver(message(f"m{n}"))
    first, second = imap_server.login(), imap_server.login()
    first.select("INBOX")
    second.select("INBOX")
    second.response("EXISTS")
    first.store("2,4,5", "+FLAGS", "\\Deleted")
    first.store("6", "+FLAGS", "\\Flagged")
    first.expunge()
    second.noop()
    assert second.response("EXPUNGE")[1] == [b"2", b"3", b"3"]
    assert second.response("FETCH")[1] == [b"3 (UID 6 FLAGS (\\Flagged))"]  # numbered after the expunges
    assert second.fetch("1:*", "(UID)")[1] == [b"1 (UID 1)", b"2 (UID 3)", b"3 (UID 6)"]


def test_a_session_that_may_not_hear_of_an_expunge_keeps_its_numbers(imap_server):
    for n in range(3):
        imap_server.deliver(message(f"m{n}"))
    first, second = imap_server.login(), imap_server.login()
    first.select("INBOX")
    second.select("INBOX")
    first.store("1", "+FLAGS", "\\Deleted")
    first.expunge()
    third = imap_server.login()  # selects the listing without UID 1
    third.select("INBOX")
    assert third.fetch("1", "(UID)")[1] == [b"1 (UID 2)"]
    assert second.fetch("2", "(UID)")[1] == [b"2 (UID 2)"]  # FETCH must not announce the expunge
    second.store("3", "+FLAGS", "\\Seen")  # a change of its own on the view that still has UID 1
    assert b"UID 3" in second.fetch("3", "(UID FLAGS)")[1][0]
    second.noop()
    assert second.response("EXPUNGE")[1] == [b"1"]
    assert second.fetch("1:*", "(UID)")[1] == [b"1 (UID 2)", b"2 (UID 3)"]
    third.noop()
    assert third.response("FETCH")[1] == [b"2 (UID 3 FLAGS (\\Seen))"]  # the other session's change
    assert third.fetch("1:*", "(UID)")[1] == [b"1 (UID 2)", b"2 (UID 3)"]
