"""A user logs in, sees their folders and selects INBOX with the mail delivered to it."""

from tests.imap.conftest import message


def test_login_and_select_inbox(imap_server):
    imap_server.deliver(message("first"))
    imap_server.deliver(message("second"))
    imap = imap_server.login()
    typ, data = imap.select("INBOX")
    assert typ == "OK" and data == [b"2"]
    typ, data = imap.fetch("1:*", "(FLAGS UID)")
    assert typ == "OK" and len(data) == 2
    imap.logout()
