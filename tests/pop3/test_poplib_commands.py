"""Every RFC 1939/2449 command through Python's poplib against the real server and store."""

from __future__ import annotations

import poplib

import pytest

from tests.conftest import PASSWORD

MESSAGES = [
    b"From: a@example.org\r\nSubject: first\r\n\r\nHello\r\n",
    b"From: b@example.org\r\nSubject: second\r\n\r\n.leading dot\r\nline 2\r\nline 3\r\n",
    b"From: c@example.org\nSubject: lf only\n\nbody with LF\n",
]


@pytest.fixture
def alice_mail(pop3):
    return [pop3.deliver("alice@example.com", raw) for raw in MESSAGES]


def test_stat_list_uidl_retr_top_noop_rset_dele_quit(pop3, alice_mail):
    client = pop3.login()
    folder = pop3.inbox()
    sizes = [m.size for m in folder.messages()]
    assert client.stat() == (3, sum(sizes))
    response, listing, _ = client.list()
    assert listing == [f"{i} {s}".encode() for i, s in enumerate(sizes, 1)]
    assert client.list(2) == f"+OK 2 {sizes[1]}".encode()
    _, uidls, _ = client.uidl()
    assert uidls == [f"{i} {folder.uidvalidity}.{uid}".encode() for i, uid in enumerate(alice_mail, 1)]
    _, lines, octets = client.retr(2)
    assert lines == [b"From: b@example.org", b"Subject: second", b"", b".leading dot", b"line 2", b"line 3"]
    _, top, _ = client.top(2, 1)
    assert top == [b"From: b@example.org", b"Subject: second", b"", b".leading dot"]
    assert client.noop().startswith(b"+OK")
    assert client.dele(1).startswith(b"+OK")
    assert client.stat()[0] == 2
    assert client.rset().startswith(b"+OK")
    assert client.stat()[0] == 3
    client.dele(3)
    assert client.quit().startswith(b"+OK")
    assert [m.uid for m in pop3.inbox().messages()] == alice_mail[:2]


def test_list_sizes_are_the_octets_retr_sends_with_crlf(pop3, alice_mail):
    client = pop3.login()
    for number in (1, 2, 3):
        size = int(client.list(number).split()[2])
        _, lines, _ = client.retr(number)
        assert size == sum(len(line) + 2 for line in lines) - sum(1 for line in lines if line.startswith(b".."))
    client.quit()


def test_capa_before_and_after_login(pop3):
    client = pop3.connect()
    before = client.capa()
    assert {"TOP", "UIDL", "USER", "SASL", "STLS", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"} <= before.keys()
    assert before["SASL"] == ["PLAIN"]
    client.user("alice@example.com")
    client.pass_(PASSWORD)
    after = client.capa()
    assert "USER" not in after and "STLS" not in after and "TOP" in after
    client.quit()


def test_uidl_is_stable_across_sessions_and_matches_imap_uid(pop3, alice_mail):
    first = pop3.login()
    uidls = first.uidl()[1]
    first.quit()
    pop3.deliver("alice@example.com", b"Subject: later\r\n\r\nx\r\n")
    second = pop3.login()
    assert second.uidl()[1][:3] == uidls
    folder = pop3.inbox()
    assert second.uidl(4).split()[2] == f"{folder.uidvalidity}.{folder.uids()[-1]}".encode()
    second.quit()


def test_errors_for_missing_and_deleted_messages(pop3, alice_mail):
    client = pop3.login()
    for call in (lambda: client.retr(9), lambda: client.list(0), lambda: client.top(4, 1), lambda: client.uidl(99)):
        with pytest.raises(poplib.error_proto):
            call()
    client.dele(1)
    with pytest.raises(poplib.error_proto, match="deleted"):
        client.retr(1)
    client.quit()


def test_empty_maildrop(pop3):
    client = pop3.login("bob@example.com")
    assert client.stat() == (0, 0)
    assert client.list()[1] == [] and client.uidl()[1] == []
    client.quit()


def test_auth_plain_with_initial_response_and_with_continuation(pop3, alice_mail):
    from base64 import b64encode

    from tests.conftest import PASSWORD

    token = b64encode(f"\0alice@example.com\0{PASSWORD}".encode()).decode()
    client = pop3.connect()
    assert client._shortcmd(f"AUTH PLAIN {token}").startswith(b"+OK")
    assert client.stat()[0] == 3
    client.quit()
    client = pop3.connect()
    assert client._shortcmd("AUTH PLAIN") == b"+ "
    assert client._shortcmd(token).startswith(b"+OK")
    client.quit()


def test_top_with_a_line_count_beyond_the_end_returns_the_whole_message(pop3, alice_mail):
    """RFC 1939: "If the number of lines requested by the POP3 client is greater than the
    number of lines in the body, then the POP3 server sends the entire message"."""
    client = pop3.login()
    whole = client.retr(2)[1]
    for count in (4, 1000, 99999999999):
        assert client.top(2, count)[1] == whole
    for bad in ("-1", "x"):
        with pytest.raises(poplib.error_proto):
            client._longcmd(f"TOP 2 {bad}")
    assert client.noop().startswith(b"+OK")
