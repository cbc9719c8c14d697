"""BODY[section] navigation cuts byte-exact parts, nested messages included (RFC 3501 §6.4.5)."""

from agents.imap.mime import section_bytes

NESTED = (
    b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    b"--outer\r\nContent-Type: text/plain\r\n\r\nouter text\r\n"
    b"--outer\r\nContent-Type: message/rfc822\r\n\r\n"
    b"Subject: inner\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
    b"--in\r\nContent-Type: text/plain\r\n\r\ninner plain\r\n"
    b"--in\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n--in--\r\n"
    b"\r\n--outer--\r\n"
)


def test_top_level_sections():
    assert section_bytes(NESTED, (), "", ()) == NESTED
    assert section_bytes(NESTED, (), "HEADER", ()).endswith(b"\r\n\r\n")
    assert section_bytes(NESTED, (), "HEADER.FIELDS", ("SUBJECT",)) == b"Subject: outer\r\n\r\n"
    assert b"Subject" not in section_bytes(NESTED, (), "HEADER.FIELDS.NOT", ("SUBJECT",))
    assert section_bytes(NESTED, (), "TEXT", ()).startswith(b"--outer")


def test_parts_and_nested_message():
    assert section_bytes(NESTED, (1,), "", ()) == b"outer text"
    assert section_bytes(NESTED, (1,), "MIME", ()) == b"Content-Type: text/plain\r\n\r\n"
    assert section_bytes(NESTED, (2,), "HEADER.FIELDS", ("subject",)) == b"Subject: inner\r\n\r\n"
    assert section_bytes(NESTED, (2, 1), "", ()) == b"inner plain"
    assert section_bytes(NESTED, (2, 2), "", ()) == b"<b>x</b>"


def test_missing_sections_are_empty():
    assert section_bytes(NESTED, (9,), "", ()) == b""
    assert section_bytes(NESTED, (1, 5), "", ()) == b""
    assert section_bytes(b"no header at all", (1,), "", ()) == b""


def test_single_part_message_body_is_part_one():
    raw = b"Subject: s\r\n\r\njust text\r\n"
    assert section_bytes(raw, (1,), "", ()) == b"just text\r\n"
