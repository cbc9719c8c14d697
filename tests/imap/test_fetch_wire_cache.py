"""ENVELOPE and BODYSTRUCTURE go out as wire bytes the index keeps (made once, versioned, dropped with the message)."""

from __future__ import annotations

import sqlite3

from agents.imap import fetch
from agents.store import mime
from tests.imap.conftest import message

ITEMS = "(UID ENVELOPE BODYSTRUCTURE BODY)"
MULTIPART_HEADER = 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n'
MULTIPART = (
    "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/pdf; name=x.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n"
    "--b--\r\n"
)


def wire_rows(imap_server) -> list[tuple[int, int]]:
    conn = sqlite3.connect(imap_server.store.mailbox("alice@example.com").index_path)
    rows = conn.execute("SELECT uid, version FROM mime_wire ORDER BY uid").fetchall()
    conn.close()
    return rows


def test_the_second_fetch_sends_the_same_bytes_from_the_index(imap_server):
    imap_server.deliver(message("plain"))
    imap_server.deliver(message("parts", body=MULTIPART, extra=MULTIPART_HEADER))
    imap = imap_server.login()
    imap.select("INBOX")
    assert wire_rows(imap_server) == []
    first = imap.fetch("1:2", ITEMS)
    assert [uid for uid, _ in wire_rows(imap_server)] == [1, 2]
    second = imap.fetch("1:2", ITEMS)
    assert first == second and b'"APPLICATION" "PDF"' in repr(first[1]).encode()


def test_a_row_of_another_version_is_not_served(imap_server):
    imap_server.deliver(message("versioned"))
    imap = imap_server.login()
    imap.select("INBOX")
    expected = imap.fetch("1", ITEMS)
    conn = sqlite3.connect(imap_server.store.mailbox("alice@example.com").index_path)
    stale = (fetch.WIRE_VERSION + 1) * 1000 + mime.STRUCTURE_VERSION  # what another serialiser would have stored
    conn.execute("UPDATE mime_wire SET version = ?, envelope = X'4E494C', bodystructure = X'4E494C'", (stale,))
    conn.commit()
    conn.close()
    assert imap.fetch("1", ITEMS) == expected


def test_the_rows_go_with_their_message(imap_server):
    imap_server.deliver(message("one"))
    imap_server.deliver(message("two"))
    imap = imap_server.login()
    imap.select("INBOX")
    imap.fetch("1:2", ITEMS)
    imap.store("1", "+FLAGS", "\\Deleted")
    imap.expunge()
    assert [uid for uid, _ in wire_rows(imap_server)] == [2]


def test_a_busy_index_does_not_hold_up_the_fetch(imap_server):
    """Keeping the wire forms is a cache write: a writer holding the index makes it skip, not wait 30 s."""
    imap_server.deliver(message("busy"))
    imap = imap_server.login()
    imap.select("INBOX")
    writer = sqlite3.connect(imap_server.store.mailbox("alice@example.com").index_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        typ, data = imap.fetch("1", ITEMS)  # the client gives up after 10 s (conftest)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert typ == "OK" and b'"busy"' in data[0]
    assert wire_rows(imap_server) == []
    imap.fetch("1", ITEMS)
    assert [uid for uid, _ in wire_rows(imap_server)] == [1]
