"""SEARCH criteria (RFC 3501 §6.4.4 plus CONDSTORE's MODSEQ): parsing and matching.

Parsing is pure (tokens → a ``SearchKey`` tree). Matching runs over a ``Candidate``
that gives the index data (flags, size, dates, UID) directly and the header or text
only when a key needs them, so flag and UID searches never open a message file.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from .lexer import Atom, ParseError, String, Token, as_bytes
from .sequence import SequenceError, SequenceSet

MAX_KEY_DEPTH = 40
_DATE_RE = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})\Z")
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}

FLAG_KEYS = _FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True), "UNANSWERED": ("\\Answered", False),
    "DELETED": ("\\Deleted", True), "UNDELETED": ("\\Deleted", False),
    "DRAFT": ("\\Draft", True), "UNDRAFT": ("\\Draft", False),
    "FLAGGED": ("\\Flagged", True), "UNFLAGGED": ("\\Flagged", False),
    "SEEN": ("\\Seen", True), "UNSEEN": ("\\Seen", False),
}
_NO_ARG = {"ALL", "NEW", "OLD", "RECENT"} | set(_FLAG_KEYS)
_STRING_ARG = {"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO", "KEYWORD", "UNKEYWORD"}
_DATE_ARG = {"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"}
_NUMBER_ARG = {"LARGER", "SMALLER"}
HEADER_KEYS = {"BCC", "CC", "FROM", "SUBJECT", "TO", "HEADER", "SENTBEFORE", "SENTON", "SENTSINCE"}
TEXT_KEYS = {"BODY", "TEXT"}


@dataclass(frozen=True)
class SearchKey:
    op: str  # AND, OR, NOT, or a key name (ALL, FROM, UID, SEQ, …)
    args: tuple = ()


def parse_search(tokens: list[Token]) -> SearchKey:
    """Criteria tokens → one AND key. Raises ParseError."""
    pos = 0
    keys = []
    while pos < len(tokens):
        key, pos = _parse_key(tokens, pos, 0)
        keys.append(key)
    return SearchKey("AND", tuple(keys))


def _arg(tokens: list[Token], pos: int, name: str) -> Token:
    if pos >= len(tokens):
        raise ParseError(f"SEARCH {name} needs an argument")
    return tokens[pos]


def _parse_key(tokens: list[Token], pos: int, depth: int) -> tuple[SearchKey, int]:
    if depth > MAX_KEY_DEPTH:
        raise ParseError("search criteria nested too deeply")
    token = tokens[pos]
    pos += 1
    if isinstance(token, list):
        if not token:
            raise ParseError("empty parenthesised search key")
        inner, ipos = [], 0
        while ipos < len(token):
            key, ipos = _parse_key(token, ipos, depth + 1)
            inner.append(key)
        return SearchKey("AND", tuple(inner)), pos
    if not isinstance(token, Atom):
        raise ParseError("search key expected")
    name = token.upper()
    if name in _NO_ARG:
        return SearchKey(name), pos
    if name in _STRING_ARG:
        return SearchKey(name, (as_bytes(_arg(tokens, pos, name)),)), pos + 1
    if name in _DATE_ARG:
        return SearchKey(name, (parse_date(_arg(tokens, pos, name)),)), pos + 1
    if name in _NUMBER_ARG:
        arg = _arg(tokens, pos, name)
        if not isinstance(arg, Atom) or not arg.value.isdigit() or len(arg.value) > 20:
            raise ParseError(f"SEARCH {name} needs a number")
        return SearchKey(name, (int(arg.value),)), pos + 1
    if name == "HEADER":
        field = as_bytes(_arg(tokens, pos, name)).decode("ascii", "replace")
        value = as_bytes(_arg(tokens, pos + 1, name))
        return SearchKey(name, (field.lower(), value)), pos + 2
    if name == "UID":
        return SearchKey(name, (_set(_arg(tokens, pos, name)),)), pos + 1
    if name == "NOT":
        key, pos = _parse_key(tokens, _check(tokens, pos, name), depth + 1)
        return SearchKey("NOT", (key,)), pos
    if name == "OR":
        first, pos = _parse_key(tokens, _check(tokens, pos, name), depth + 1)
        second, pos = _parse_key(tokens, _check(tokens, pos, name), depth + 1)
        return SearchKey("OR", (first, second)), pos
    if name == "MODSEQ":
        arg = _arg(tokens, pos, name)
        if isinstance(arg, String):  # entry name and type (we keep one mod-sequence per message)
            pos += 2
            arg = _arg(tokens, pos, name)
        if not isinstance(arg, Atom) or not arg.value.isdigit():
            raise ParseError("SEARCH MODSEQ needs a number")
        return SearchKey(name, (int(arg.value),)), pos + 1
    if name[:1].isdigit() or name[:1] == "*" or name == "$":
        return SearchKey("SEQ", (_set(token),)), pos
    raise ParseError(f"unknown search key {name[:20]}")


def _check(tokens: list[Token], pos: int, name: str) -> int:
    _arg(tokens, pos, name)
    return pos


def _set(token: Token) -> SequenceSet:
    if not isinstance(token, Atom):
        raise ParseError("expected a sequence set")
    try:
        return SequenceSet.parse(token.value)
    except SequenceError as exc:
        raise ParseError(str(exc)) from exc


def parse_date(token: Token) -> date:
    text = as_bytes(token).decode("ascii", "replace")
    m = _DATE_RE.match(text)
    if not m or m.group(2).lower() not in _MONTHS:
        raise ParseError("bad date (want d-Mon-yyyy)")
    try:
        return date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
    except ValueError as exc:
        raise ParseError("bad date") from exc


def needs(key: SearchKey) -> set[str]:
    """Which costly data the criteria need: "header" and/or "text"."""
    out: set[str] = set()
    if key.op in HEADER_KEYS:
        out.add("header")
    if key.op in TEXT_KEYS:
        out.update(("header", "text"))
    if key.op in ("AND", "OR", "NOT"):
        for sub in key.args:
            out |= needs(sub)
    return out


class Candidate(Protocol):
    """One message as SEARCH sees it."""

    seq: int
    uid: int
    flags: frozenset[str]
    size: int
    internaldate: datetime
    modseq: int
    recent: bool

    def header(self, name: str) -> list[str]: ...  # decoded values of a header field
    def sent_date(self) -> date | None: ...
    def text(self, body_only: bool) -> str: ...  # decoded text for BODY/TEXT


class BadCharset(ValueError):
    """SEARCH CHARSET names a charset we do not know (answer NO [BADCHARSET])."""


class Matcher:
    """Compiled criteria: strings decoded with the charset and case-folded once."""

    def __init__(self, criteria: SearchKey, charset: str | None, max_seq: int, max_uid: int) -> None:
        self.charset = charset or "us-ascii"
        try:
            codecs.lookup(self.charset)
        except LookupError as exc:
            raise BadCharset(self.charset) from exc
        if self.charset.lower() in ("us-ascii", "ascii"):
            self.charset = "utf-8"  # be lenient: many clients send UTF-8 without saying so
        self.criteria = criteria
        self.max_seq = max_seq
        self.max_uid = max_uid
        self._strings: dict[bytes, str] = {}
        self.hits: dict[SearchKey, set[int]] | None = None  # keys answered ahead (from the index)

    def text(self, raw: bytes) -> str:
        """A search string decoded with the charset (not case-folded)."""
        try:
            return raw.decode(self.charset)
        except UnicodeDecodeError as exc:
            raise BadCharset(self.charset) from exc

    def _s(self, raw: bytes) -> str:
        if raw not in self._strings:
            try:
                self._strings[raw] = raw.decode(self.charset).casefold()
            except UnicodeDecodeError as exc:
                raise BadCharset(self.charset) from exc
        return self._strings[raw]

    def match(self, msg: Candidate, key: SearchKey | None = None) -> bool:
        key = self.criteria if key is None else key
        op, args = key.op, key.args
        if op == "AND":
            return all(self.match(msg, k) for k in args)
        if op == "OR":
            return self.match(msg, args[0]) or self.match(msg, args[1])
        if op == "NOT":
            return not self.match(msg, args[0])
        if op == "ALL":
            return True
        if self.hits is not None and key in self.hits:
            return msg.uid in self.hits[key]
        if op in _FLAG_KEYS:
            flag, present = _FLAG_KEYS[op]
            return (flag in msg.flags) == present
        if op == "RECENT":
            return msg.recent
        if op == "NEW":
            return msg.recent and "\\Seen" not in msg.flags
        if op == "OLD":
            return not msg.recent
        if op == "KEYWORD":
            return args[0].decode("ascii", "replace").lower() in {f.lower() for f in msg.flags}
        if op == "UNKEYWORD":
            return args[0].decode("ascii", "replace").lower() not in {f.lower() for f in msg.flags}
        if op == "LARGER":
            return msg.size > args[0]
        if op == "SMALLER":
            return msg.size < args[0]
        if op == "UID":
            return args[0].contains_uid(msg.uid, self.max_uid)
        if op == "SEQ":
            return args[0].contains_uid(msg.seq, self.max_seq)
        if op == "MODSEQ":
            return msg.modseq >= args[0]
        if op in ("BEFORE", "ON", "SINCE"):
            return _compare(op, msg.internaldate.date(), args[0])
        if op in ("SENTBEFORE", "SENTON", "SENTSINCE"):
            sent = msg.sent_date()
            return sent is not None and _compare(op[4:], sent, args[0])
        if op in ("FROM", "TO", "CC", "BCC", "SUBJECT"):
            needle = self._s(args[0])
            return any(needle in v.casefold() for v in msg.header(op.lower()))
        if op == "HEADER":
            needle = self._s(args[1])
            values = msg.header(args[0])
            return bool(values) and any(needle in v.casefold() for v in values)
        if op in ("BODY", "TEXT"):
            needle = self._s(args[0])
            return needle in msg.text(body_only=op == "BODY").casefold()
        raise ParseError(f"unsupported search key {op}")


def _compare(op: str, value: date, wanted: date) -> bool:
    if op == "BEFORE":
        return value < wanted
    if op == "ON":
        return value == wanted
    return value >= wanted
