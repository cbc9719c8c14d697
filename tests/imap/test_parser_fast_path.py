"""The parser's fast path (commands of plain atoms and flat lists) answers exactly as the general lexer does.

``parse_command`` first tries ``lexer.simple_tokens``; whatever it takes must come out as the
general path makes it (the same command, or the same error), and whatever it leaves goes to the
general path. Checked on the commands of a session's steady traffic and on many random lines
built from the characters that matter to the lexer.
"""

from __future__ import annotations

import random

import pytest

from agents.imap import parser
from agents.imap.fetchitems import parse_fetch_items
from agents.imap.lexer import Atom, ParseError, simple_tokens
from agents.imap.sequence import SequenceSet

STEADY = [
    b"A1 NOOP", b"A2 SELECT INBOX", b"A3 FETCH 1:* (FLAGS)", b"A4 FETCH 181:* (UID ENVELOPE)",
    b"A5 FETCH 17 (BODY.PEEK[])", b"A6 STORE 17 +FLAGS.SILENT (\\Flagged)", b"A7 STORE 3 -FLAGS (\\Seen $Junk)",
    b"A8 SEARCH UNSEEN", b"A9 UID FETCH 1:* (FLAGS)", b"B1 UID SEARCH 1:* NOT DELETED", b"B2 FETCH 1 BODY[1.MIME]",
    b"B3 FETCH 1 (BODY.PEEK[HEADER]<0.100> RFC822.SIZE)", b"B4 EXAMINE [Gmail]/Sent", b"B5 STATUS INBOX (MESSAGES)",
    b"B6 FETCH 1:3 ALL", b"B7 UID STORE 5 FLAGS ()", b"B8 IDLE", b"B9 uid fetch 2 (uid flags)", b"C1 SELECT foo[bar",
    b"C2 FETCH 1 (BODY[HEADER.FIELDS (FROM)])", b'C3 SELECT "INBOX"', b"C4 NOOP ", b"C5 FETCH  1 (FLAGS)",
    b"C6 UID", b"C7 FETCH 1 ((FLAGS))", b"C8 STORE 1 +FLAGS (\\Bogus)", b"C9 SELECT &AGE-", b"D1 LOGIN a b",
]
ALPHABET = [b"A", b"1", b":", b"*", b" ", b"(", b")", b"[", b"]", b"<", b">", b".", b"\\", b'"', b"{", b"}", b"%",
            b"FLAGS", b"UID", b"BODY", b"BODY.PEEK", b"HEADER", b"1:*", b"+FLAGS", b"\\Seen", b"&", b"\xc3\xa9",
            b"\x01"]
COMMANDS = [b"FETCH", b"STORE", b"SEARCH", b"SELECT", b"UID FETCH", b"UID STORE", b"STATUS", b"NOOP", b"COPY",
            b"EXAMINE", b"LIST", b"EXPUNGE"]


def general(data: bytes, utf8: bool = False) -> object:
    """What the general lexer makes of ``data``: the command, or the error's text and tag."""
    real = parser._simple
    parser._simple = lambda *args: None  # type: ignore[assignment]
    try:
        return outcome(data, utf8)
    finally:
        parser._simple = real  # type: ignore[assignment]


def outcome(data: bytes, utf8: bool = False) -> object:
    try:
        return parser.parse_command(data, utf8=utf8)
    except parser.CommandError as exc:
        return ("error", str(exc), exc.tag)


@pytest.mark.parametrize("data", STEADY)
def test_steady_commands_parse_alike(data):
    assert outcome(data) == general(data)
    assert outcome(data, utf8=True) == general(data, utf8=True)


def test_the_fast_path_takes_the_steady_commands():
    """The point of it: the usual commands never reach the general lexer."""
    for data in STEADY[:18]:
        tag_end = data.index(b" ") + 1
        assert simple_tokens(data, tag_end) is not None, data


def test_random_lines_parse_alike():
    rng = random.Random(17)
    for _ in range(20_000):
        words = [rng.choice(ALPHABET) for _ in range(rng.randint(0, 8))]
        data = b"T " + rng.choice(COMMANDS) + rng.choice([b" ", b""]) + b"".join(words)
        assert outcome(data) == general(data), data


def test_simple_tokens_are_the_general_lexers_tokens():
    assert simple_tokens(b"(a) (b c d) e ()", 0) == [[Atom("a")], [Atom("b"), Atom("c"), Atom("d")], Atom("e"), []]
    for line in (b'"quoted"', b"{3}\r\nabc", b"a  b", b"(a (b))", b"BODY[HEADER.FIELDS (A)]", b"a ", b" a", b"x]"):
        assert simple_tokens(line, 0) is None, line


def test_kept_parses_are_the_same_values():
    """Sequence sets and FETCH item lists parsed once and kept: equal to a fresh parse, and immutable."""
    assert SequenceSet.parse("1:*") is SequenceSet.parse("1:*")
    assert SequenceSet.parse("1:*") == SequenceSet._parse("1:*")
    first = parse_fetch_items([Atom("UID"), Atom("ENVELOPE")])
    assert first is parse_fetch_items([Atom("UID"), Atom("ENVELOPE")]) and isinstance(first, tuple)
    assert len(parse_fetch_items(Atom("FAST"))) == 3
    with pytest.raises(ParseError):  # a macro is no item of a list, whatever was kept for the atom
        parse_fetch_items([Atom("FAST")])
