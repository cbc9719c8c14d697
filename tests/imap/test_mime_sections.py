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


TWO_LEVELS = (
    b"Subject: top\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
    b"--a\r\nContent-Type: text/plain\r\n\r\nintro\r\n"
    b"--a\r\nContent-Type: message/rfc822\r\n\r\n"
    b"Subject: middle\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
    b"Subject: inner\r\nContent-Type: message/rfc822\r\n\r\n"
    b"Subject: innermost\r\n\r\ndeepest text\r\n"
    b"--b--\r\n"
    b"--a--\r\n"
)


def test_a_message_part_is_the_whole_enclosed_message():
    enclosed = section_bytes(TWO_LEVELS, (2,), "", ())
    assert enclosed.startswith(b"Subject: middle\r\n") and enclosed.endswith(b"--b--\r\n")  # as Dovecot: see mimetree
    header = b"Subject: middle\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    assert section_bytes(TWO_LEVELS, (2,), "HEADER", ()) == header
    assert section_bytes(TWO_LEVELS, (2,), "TEXT", ()).startswith(b"--b\r\n")
    assert section_bytes(TWO_LEVELS, (2,), "MIME", ()) == b"Content-Type: message/rfc822\r\n\r\n"


def test_two_levels_of_nesting():
    inner = section_bytes(TWO_LEVELS, (2, 1), "", ())
    assert inner.startswith(b"Subject: inner\r\n")
    assert section_bytes(TWO_LEVELS, (2, 1), "HEADER", ()) == b"Subject: inner\r\nContent-Type: message/rfc822\r\n\r\n"
    assert section_bytes(TWO_LEVELS, (2, 1), "MIME", ()) == b"Content-Type: message/rfc822\r\n\r\n"
    # 2.1 is a message whose body is another message: 2.1.1 is that body, 2.1.1.HEADER its header.
    assert section_bytes(TWO_LEVELS, (2, 1, 1), "", ()) == b"Subject: innermost\r\n\r\ndeepest text"
    assert section_bytes(TWO_LEVELS, (2, 1, 1), "HEADER", ()) == b"Subject: innermost\r\n\r\n"
    assert section_bytes(TWO_LEVELS, (2, 1, 1, 1), "", ()) == b"deepest text"
    assert section_bytes(TWO_LEVELS, (2, 1, 1, 1), "HEADER", ()) == b""  # text/plain has no HEADER


def test_folded_and_rfc2231_boundaries_are_found():
    folded = (b"Content-Type: multipart/mixed;\r\n\tboundary=\r\n \"f\"\r\n\r\n"
              b"--f\r\n\r\none\r\n--f\r\n\r\ntwo\r\n--f--\r\n")
    split = (b"Content-Type: multipart/mixed; boundary*0=\"sp\";\r\n boundary*1=\"lit\"\r\n\r\n"
             b"--split\r\n\r\none\r\n--split\r\n\r\ntwo\r\n--split--\r\n")
    for raw in (folded, split):
        assert section_bytes(raw, (1,), "", ()) == b"one" and section_bytes(raw, (2,), "", ()) == b"two"


def test_parsed_trees_are_reused_only_for_the_same_bytes():
    from agents.imap.mime import tree

    first = tree(NESTED)
    assert tree(bytes(bytearray(NESTED))) is first  # another object with the same bytes: no second parse
    other = NESTED.replace(b"outer text", b"OUTER TEXT")  # same length, other bytes
    assert tree(other) is not first and section_bytes(other, (1,), "", ()) == b"OUTER TEXT"
