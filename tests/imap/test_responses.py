"""Response serialisation: strings, ENVELOPE and BODYSTRUCTURE from the store's cached JSON, mailbox names."""

from datetime import UTC, datetime

from agents.imap import responses as r
from agents.store.mime import summarize


def test_strings_quote_or_literal():
    assert r.string("plain") == b'"plain"'
    assert r.string('say "hi"') == b'"say \\"hi\\""'
    assert r.string("line\r\nbreak") == b"{11}\r\nline\r\nbreak"
    assert r.string("Grüße") == b"{7}\r\n" + "Grüße".encode()
    assert r.string(None) == b"NIL"


def test_envelope_from_store_summary():
    raw = (b"From: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>\r\nTo: a@example.com, undisclosed:;\r\n"
           b"Subject: hi\r\nMessage-ID: <x@y>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n")
    env = r.envelope(summarize(raw).envelope)
    assert env.startswith(b'("Mon, 23 Nov 2026 10:00:00 +0000" "hi" ')
    assert b'(("=?utf-8?q?J=C3=B6rg?=" NIL "joerg" "example.de"))' in env
    assert b'"<x@y>")' in env and env.count(b"(") == env.count(b")")


def test_bodystructure_multipart_with_attachment():
    raw = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
           b"--b\r\nContent-Type: image/png; name=x.png\r\nContent-Transfer-Encoding: base64\r\n"
           b"Content-Disposition: attachment; filename=x.png\r\n\r\niVBORw0KGgo=\r\n--b--\r\n")
    structure = summarize(raw).bodystructure
    full = r.bodystructure(structure)
    basic = r.bodystructure(structure, extensible=False)
    assert full.startswith(b'(("TEXT" "PLAIN" ("charset" "us-ascii") NIL NIL "7BIT" ')
    assert b'"IMAGE" "PNG" ("name" "x.png") NIL NIL "BASE64"' in full and b'("attachment" ("filename" "x.png"))' in full
    assert b'"MIXED" ("boundary" "b")' in full and b'"MIXED")' in basic and b"attachment" not in basic


def test_bodystructure_of_garbage_is_still_well_formed():
    out = r.bodystructure(None)
    assert out.startswith(b'("TEXT" "PLAIN"') and out.count(b"(") == out.count(b")")


def test_internaldate_format():
    assert r.internaldate(datetime(2026, 3, 5, 7, 8, 9, tzinfo=UTC)) == b'" 5-Mar-2026 07:08:09 +0000"'


def test_mailbox_names_are_sent_in_modified_utf7():
    assert r.mailbox("Entwürfe/a&b") == b'"Entw&APw-rfe/a&-b"'
