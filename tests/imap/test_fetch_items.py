"""FETCH: every data item, from index data to byte-exact body sections."""

import re

import pytest

from tests.imap.conftest import message

MULTIPART = (
    b"From: Carol <carol@example.net>\r\nTo: alice@example.com\r\nSubject: parts\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XYZ\r\n\r\n"
    b"preamble\r\n--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst part\r\n"
    b"--XYZ\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=a.bin\r\n\r\nAAECAw==\r\n--XYZ--\r\n"
)


def _select(imap_server, *raws):
    for raw in raws:
        imap_server.deliver(raw)
    imap = imap_server.login()
    imap.select("INBOX")
    return imap


def test_fast_items(imap_server):
    imap = _select(imap_server, message("a"))
    typ, data = imap.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE UID)")
    assert typ == "OK"
    assert re.search(rb'INTERNALDATE "[ \d]\d-\w{3}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"', data[0])
    assert b"UID 1" in data[0] and b"RFC822.SIZE %d" % len(message("a")) in data[0]


def test_envelope(imap_server):
    imap = _select(imap_server, message("Greetings"))
    data = imap.fetch("1", "(ENVELOPE)")[1][0]
    assert b'"Greetings"' in data and b'("Carol" NIL "carol" "example.net")' in data


def test_bodystructure_of_multipart(imap_server):
    imap = _select(imap_server, MULTIPART)
    data = imap.fetch("1", "(BODYSTRUCTURE BODY)")[1][0]
    assert b'"MIXED"' in data and b'"APPLICATION" "OCTET-STREAM"' in data and b'"attachment"' in data.lower()


def test_body_sections_are_byte_exact(imap_server):
    imap = _select(imap_server, MULTIPART)
    typ, data = imap.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    parts = {d[0].split(b" ")[-2] if False else d[0]: d[1] for d in data if isinstance(d, tuple)}
    values = list(parts.values())
    assert values[0] == b"first part"
    assert values[1].startswith(b"Content-Type: application/octet-stream") and values[1].endswith(b"\r\n\r\n")
    assert values[2] == b"Subject: parts\r\n\r\n"


def test_partial_body(imap_server):
    imap = _select(imap_server, message("p", body="0123456789\r\n"))
    data = imap.fetch("1", "(BODY.PEEK[TEXT]<2.5>)")[1][0]
    assert data[0].endswith(b"BODY[TEXT]<2> {5}") and data[1] == b"23456"


def test_body_sets_seen_but_peek_does_not(imap_server):
    imap = _select(imap_server, message("x"), message("y"))
    imap.fetch("1", "(BODY.PEEK[])")
    data = imap.fetch("2", "(BODY[])")[1]
    assert b"\\Seen" in b"".join(x if isinstance(x, bytes) else x[0] for x in data)
    flags = imap.fetch("1:2", "(FLAGS)")[1]
    assert b"\\Seen" not in flags[0] and b"\\Seen" in flags[1]


def test_rfc822_items(imap_server):
    raw = message("whole")
    imap = _select(imap_server, raw)
    data = imap.fetch("1", "(RFC822.HEADER RFC822.TEXT)")[1][0:2]
    assert data[0][1] == raw.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert data[1][1] == raw.split(b"\r\n\r\n", 1)[1]
    assert imap.fetch("1", "(RFC822)")[1][0][1] == raw


def test_macros_all_fast_full(imap_server):
    imap = _select(imap_server, message())
    for macro in ("ALL", "FAST", "FULL"):
        typ, data = imap.fetch("1", macro)
        assert typ == "OK" and b"FLAGS" in data[0]


def test_uid_fetch_reports_uid_and_ignores_missing(imap_server):
    imap = _select(imap_server, message("a"), message("b"))
    typ, data = imap.uid("FETCH", "2:99", "(FLAGS)")
    assert typ == "OK" and len(data) == 1 and b"UID 2" in data[0]


def test_fetch_out_of_range_sequence_is_bad(imap_server):
    imap = _select(imap_server, message())
    with pytest.raises(imap.error, match="out of range"):
        imap.fetch("5", "(FLAGS)")
