"""SEARCH on an address header matches a group's display name (``To: team: a@x, b@y;``), as Dovecot does."""

from tests.imap.conftest import message


def test_to_and_cc_match_the_group_name(imap_server):
    imap_server.deliver(message("grouped", to="project-team: ann@example.com, bob@example.org;"))
    imap_server.deliver(message("plain", to="ann@example.com", extra="Cc: undisclosed-recipients:;\r\n"))
    imap = imap_server.login()
    imap.select("INBOX")
    assert imap.search(None, "TO", "project-team") == ("OK", [b"1"])
    assert imap.search(None, "TO", "bob@example.org") == ("OK", [b"1"])
    assert imap.search(None, "CC", "undisclosed-recipients") == ("OK", [b"2"])
    assert imap.search(None, "OR", "TO", "team", "TO", "ann") == ("OK", [b"1 2"])
