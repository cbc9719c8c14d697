"""Two sessions on one folder see each other's changes as untagged EXISTS, EXPUNGE and FETCH FLAGS."""

from tests.imap.conftest import message


def test_changes_reach_the_other_session_on_noop(imap_server):
    imap_server.deliver(message("one"))
    imap_server.deliver(message("two"))
    first, second = imap_server.login(), imap_server.login()
    first.select("INBOX")
    second.select("INBOX")
    second.response("EXISTS")  # imaplib keeps untagged data until asked: forget SELECT's
    first.store("1", "+FLAGS", "\\Flagged")
    first.append("INBOX", None, None, message("three"))
    second.noop()
    assert second.response("EXISTS")[1] == [b"3"]
    assert any(b"\\Flagged" in d for d in second.response("FETCH")[1])
    first.store("2", "+FLAGS", "\\Deleted")
    first.expunge()
    second.noop()
    assert second.response("EXPUNGE")[1] == [b"2"]
    assert second.search(None, "ALL")[1] == [b"1 2"]


def test_expunge_is_not_announced_during_fetch(imap_server):
    imap_server.deliver(message("one"))
    imap_server.deliver(message("two"))
    first, second = imap_server.login(), imap_server.login()
    first.select("INBOX")
    second.select("INBOX")
    second.response("EXISTS")  # imaplib keeps untagged data until asked: forget SELECT's
    first.store("1", "+FLAGS", "\\Deleted")
    first.expunge()
    typ, data = second.fetch("2", "(UID)")
    assert typ == "OK" and second.response("EXPUNGE")[1] == [None]
    second.noop()
    assert second.response("EXPUNGE")[1] == [b"1"]


def test_delivery_shows_up_on_noop(imap_server):
    imap = imap_server.login()
    imap.select("INBOX")
    imap.response("EXISTS")
    imap_server.deliver(message("late"))
    imap.noop()
    assert imap.response("EXISTS")[1] == [b"1"]
