"""The pure parser: good commands become typed objects; malformed, oversized and hostile input is a
CommandError (BAD), never another exception, whatever the bytes."""

import random

import pytest

from agents.imap import parser as p
from agents.imap.lexer import literal_announcement
from agents.imap.sequence import SequenceSet


def test_fetch_with_sections_and_partial():
    cmd = p.parse_command(b"a1 UID FETCH 1:*,7 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS.NOT (Received X-Spam)]<10.20>)")
    assert cmd.uid and cmd.sequence == SequenceSet(((1, None), (7, 7)))
    item = cmd.items[1]
    assert item.peek and item.section.parts == (1, 2) and item.section.text == "HEADER.FIELDS.NOT"
    assert item.section.fields == ("RECEIVED", "X-SPAM") and item.partial == (10, 20)


def test_login_with_literal_and_quoted():
    cmd = p.parse_command(b'a LOGIN {5}\r\nalice "pa\\"ss"')
    assert (cmd.user, cmd.password) == ("alice", 'pa"ss')


def test_append_with_flags_date_and_literal():
    cmd = p.parse_command(b'a APPEND "Sent" (\\Seen $Done) "05-Mar-2025 12:00:00 -0500" {3}\r\nabc')
    assert cmd.mailbox == "Sent" and cmd.flags == ("\\Seen", "$Done") and cmd.message == b"abc"
    assert cmd.date.utcoffset().total_seconds() == -5 * 3600


def test_search_tree():
    cmd = p.parse_command(b"a SEARCH CHARSET UTF-8 OR (FROM x SINCE 1-Jan-2020) NOT UID 5:7 HEADER X-A b")
    assert cmd.charset == "UTF-8" and [k.op for k in cmd.criteria.args] == ["OR", "HEADER"]


def test_mailbox_names_decode_modified_utf7_and_fold_inbox():
    assert p.parse_command(b"a SELECT inbox").mailbox == "INBOX"
    assert p.parse_command(b'a CREATE "Entw&APw-rfe/&ZeVnLIqe-"').mailbox == "Entwürfe/日本語"


def test_store_modes():
    assert p.parse_command(b"a STORE 1 -FLAGS.SILENT (\\Seen)").mode == "remove"
    cmd = p.parse_command(b"a STORE 1:2 (UNCHANGEDSINCE 12) FLAGS \\Draft")
    assert cmd.unchangedsince == 12 and cmd.mode == "replace" and cmd.flags == ("\\Draft",)


def test_list_extended():
    cmd = p.parse_command(b'a LIST (SPECIAL-USE) "" ("*" "%") RETURN (SUBSCRIBED)')
    assert cmd.special_use_only and cmd.return_subscribed and cmd.patterns == ("*", "%")


@pytest.mark.parametrize("line", [
    b"", b"a", b"a ", b" a NOOP", b"a NOOP extra", b"a BOGUS", b"a FETCH", b"a FETCH 1", b"a FETCH 0 FLAGS",
    b"a FETCH 1 (FLAGS", b"a FETCH 1 FLAGS)", b"a FETCH x FLAGS", b"a FETCH 1 BODY[", b"a FETCH 1 BODY[MIME]",
    b"a FETCH 1 BODY[HEADER.FIELDS ()]", b"a FETCH 1 BODY[0]", b"a FETCH 1 NOPE", b"a FETCH 1:2:3 FLAGS",
    b'a LOGIN "unterminated', b"a LOGIN {99}\r\nshort", b"a LOGIN {x}\r\nab", b"a LOGIN (a) b",
    b'a LOGIN "a\r\nb" c', b"a SELECT", b"a SELECT INBOX (QRESYNC)", b"a STORE 1 FLAGS.NOPE (\\Seen)",
    b"a STORE 1 +FLAGS (\\Nope)", b"a SEARCH", b"a SEARCH SINCE 31-Feb-2020", b"a SEARCH OR ALL",
    b"a SEARCH NOT", b"a APPEND INBOX", b"a APPEND INBOX \"notaliteral\"", b"a UID NOOP", b"a UID",
    b"a ENABLE", b"a SETQUOTA \"\" (STORAGE)", b"a ID (\"a\")", b"a STATUS INBOX (BOGUS)",
    b"a CREATE \"&Jjo\"", b"a CREATE \"bad\x01\"", b"tag\x00 NOOP", b"a SEARCH " + b"NOT " * 200 + b"ALL",
    b"a FETCH 1 " + b"(" * 100 + b")" * 100, b"a FETCH 99999999999 FLAGS", b"\xff\xfe NOOP", b"a NOOP\xff",
])
def test_malformed_commands_are_command_errors(line):
    with pytest.raises(p.CommandError):
        p.parse_command(line)


def test_error_carries_the_tag():
    with pytest.raises(p.CommandError) as exc:
        p.parse_command(b"x42 FETCH 1 (FLAGS")
    assert exc.value.tag == "x42"


def test_random_bytes_never_raise_anything_else():
    rng = random.Random(1234)
    alphabet = b'a1 ()[]{}<>"\\*%:,.+-\r\nFETCH BODY UID SEARCH OR NOT LOGIN \x00\xff'
    for _ in range(3000):
        size = rng.randint(0, 80)
        data = b"t " + bytes(rng.choice(alphabet) for _ in range(size))
        try:
            p.parse_command(data)
        except p.CommandError:
            pass


def test_huge_inputs_are_handled_quickly():
    with pytest.raises(p.CommandError):
        p.parse_command(b"a FETCH " + b"1," * 60_000 + b"1 FLAGS")
    with pytest.raises(p.CommandError):
        p.parse_command(b"a LOGIN " + b"x" * 1_000_000 + b" y z")


def test_literal_announcement():
    assert literal_announcement(b"a APPEND INBOX {12}") == (12, False)
    assert literal_announcement(b"a APPEND INBOX {12+}") == (12, True)
    assert literal_announcement(b"a NOOP") is None
    assert literal_announcement(b"a LOGIN {1x}") is None
