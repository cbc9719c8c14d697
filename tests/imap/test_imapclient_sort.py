"""A real client library (imapclient) on the SORT, THREAD and MULTIAPPEND paths."""

from __future__ import annotations

import re

from imapclient import IMAPClient

from tests.conftest import PASSWORD

from .conftest import ALICE, message


def _client(imap_server) -> IMAPClient:
    client = IMAPClient(imap_server.host, port=imap_server.port, ssl=False, timeout=10)
    client.login(ALICE, PASSWORD)
    return client


def test_sort_and_thread_through_imapclient(imap_server):
    for subject, sender, extra in [
        ("Banana", "zed@example.net", "Message-ID: <b@x>\r\n"),
        ("Re: apple", "amy@example.net", "Message-ID: <r@x>\r\nReferences: <a@x>\r\n"),
        ("Apple", "bob@example.net", "Message-ID: <a@x>\r\n"),
    ]:
        imap_server.deliver(message(subject, sender=sender, extra=extra))
    client = _client(imap_server)
    try:
        assert {b"SORT", b"SORT=DISPLAY", b"THREAD=REFERENCES", b"ESEARCH"} <= set(client.capabilities())
        client.select_folder("INBOX")
        # UIDs; "Re: apple" has the base subject "apple", equal to "Apple": the tie goes by arrival
        assert client.sort(["SUBJECT"]) == [2, 3, 1]
        assert client.sort(["REVERSE", "SUBJECT", "FROM"]) == [1, 2, 3]
        assert client.sort("FROM", ["NOT", "SUBJECT", "banana"]) == [2, 3]
        threads = client.thread("REFERENCES")
        assert sorted(tuple(t) for t in threads) == [(1,), (3, 2)]
        assert client.thread("ORDEREDSUBJECT") == ((1,), (2, 3))  # equal dates: the first to arrive leads
    finally:
        client.logout()


def test_multiappend_through_imapclient(imap_server):
    client = _client(imap_server)
    try:
        answer = client.multiappend("INBOX", [message("one"), {"msg": message("two"), "flags": [b"\\Seen"]}])
        text = repr(answer).encode()
        assert re.search(rb"\[APPENDUID \d+ 1:2\]", text), text
        assert client.select_folder("INBOX")[b"EXISTS"] == 2
    finally:
        client.logout()
