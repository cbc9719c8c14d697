"""Tokens of an IMAP command: atoms, strings (quoted or literal) and parenthesised lists.

Pure and bounded: the input is one complete command whose literals the server has
already read (``{n}\\r\\n`` followed by the n bytes); nesting is limited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_DEPTH = 16


class ParseError(ValueError):
    """Malformed input; the session answers BAD with this text."""


@dataclass(frozen=True)
class Atom:
    value: str  # may hold a bracketed section (BODY[HEADER.FIELDS (A B)]<0.10>), or "[" as in "[Gmail]/Sent"

    def upper(self) -> str:
        return self.value.upper()


@dataclass(frozen=True)
class String:
    value: bytes
    literal: bool = False


Token = Atom | String | list  # list of Token


_ATOM_RUN = re.compile(rb'[^ (){"\x00-\x1f\x7f\[]+')
# Fetch items whose "[" opens a section (RFC 3501 section, RFC 3516 BINARY); only there does an atom
# run on past spaces and parentheses up to the matching "]".
SECTION_ITEMS = {b"BODY", b"BODY.PEEK", b"BINARY", b"BINARY.PEEK", b"BINARY.SIZE"}


class Lexer:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def space(self) -> None:
        if self.peek() != 0x20:
            raise ParseError("expected a space")
        self.pos += 1

    def maybe_space(self) -> bool:
        if self.peek() == 0x20:
            self.pos += 1
            return True
        return False

    def end(self) -> None:
        if not self.at_end():
            raise ParseError("unexpected characters at end of command")

    def token(self, depth: int = 0) -> Token:
        c = self.peek()
        if c is None:
            raise ParseError("missing argument")
        if c == 0x28:  # (
            return self._list(depth)
        if c == 0x22:  # "
            return self._quoted()
        if c == 0x7B:  # {
            return self._literal()
        if c == 0x7E and self.data[self.pos + 1 : self.pos + 2] == b"{":  # ~{ literal8
            self.pos += 1
            return self._literal()
        return self._atom()

    def tokens_to_end(self) -> list[Token]:
        out: list[Token] = []
        while not self.at_end():
            out.append(self.token())
            if not self.at_end():
                self.space()
        return out

    def _list(self, depth: int) -> list:
        if depth >= MAX_DEPTH:
            raise ParseError("parentheses nested too deeply")
        self.pos += 1
        items: list = []
        while True:
            c = self.peek()
            if c is None:
                raise ParseError("unbalanced parentheses")
            if c == 0x29:
                self.pos += 1
                return items
            if items:
                self.space()
                if self.peek() == 0x29:
                    raise ParseError("space before )")
            items.append(self.token(depth + 1))

    def _quoted(self) -> String:
        self.pos += 1
        out = bytearray()
        data = self.data
        while True:
            if self.pos >= len(data):
                raise ParseError("unterminated quoted string")
            c = data[self.pos]
            self.pos += 1
            if c == 0x22:
                return String(bytes(out))
            if c == 0x5C:
                if self.pos >= len(data) or data[self.pos] not in (0x22, 0x5C):
                    raise ParseError("bad escape in quoted string")
                c = data[self.pos]
                self.pos += 1
            elif c in (0x0D, 0x0A, 0x00):
                raise ParseError("CR, LF or NUL in quoted string")
            out.append(c)

    def _literal(self) -> String:
        end = self.data.find(b"}", self.pos)
        if end < 0 or end - self.pos > 13:
            raise ParseError("malformed literal")
        spec = self.data[self.pos + 1 : end].rstrip(b"+")
        if not spec.isdigit():
            raise ParseError("malformed literal length")
        size = int(spec)
        if self.data[end + 1 : end + 3] != b"\r\n":
            raise ParseError("literal must end its line")
        start = end + 3
        if start + size > len(self.data):
            raise ParseError("literal shorter than announced")
        self.pos = start + size
        return String(self.data[start : start + size], literal=True)

    def _atom(self) -> Atom:
        data = self.data
        start = self.pos
        while self.pos < len(data):
            m = _ATOM_RUN.match(data, self.pos)
            if m:
                self.pos = m.end()
            if self.pos < len(data) and data[self.pos] == 0x5B:
                if data[start : self.pos].upper() in SECTION_ITEMS:  # BODY[...]: may hold spaces and parentheses
                    self._skip_brackets()
                else:  # "[" is an ordinary atom character everywhere else (RFC 3501 ATOM-CHAR)
                    self.pos += 1
                continue
            break
        if self.pos == start:
            raise ParseError(f"unexpected character {chr(data[start])!r}")
        try:
            return Atom(data[start : self.pos].decode("ascii"))
        except UnicodeDecodeError as exc:
            raise ParseError("8-bit characters in an atom") from exc

    def _skip_brackets(self) -> None:
        data = self.data
        self.pos += 1
        depth = 0
        while self.pos < len(data):
            c = data[self.pos]
            if c == 0x22:
                self._quoted()
                continue
            if c == 0x7B:
                self._literal()
                continue
            if c in (0x0D, 0x0A):
                break
            self.pos += 1
            if c == 0x28:
                depth += 1
                if depth > MAX_DEPTH:
                    raise ParseError("parentheses nested too deeply")
            elif c == 0x29:
                depth -= 1
                if depth < 0:
                    raise ParseError("unbalanced parentheses in section")
            elif c == 0x5D and depth == 0:
                return
        raise ParseError("unterminated [ in atom")


# The fast path of ``simple_tokens``: commands made only of plain atoms (printable ASCII, no quote, brace or
# parenthesis; a "[...]" in an atom holding none of those nor a space) and flat parenthesised lists of them, one
# space apart, as nearly every command a client sends in a session is (FETCH 1:* (FLAGS), STORE n +FLAGS (\\Seen),
# SEARCH UNSEEN, SELECT INBOX, NOOP). For such input the general lexer makes exactly these tokens.
_PLAIN = rb'(?:[!#-\'*-Z\\^-z|~]|\[[!#-\'*-Z\\^-z|~]*\])+'
_SIMPLE_LINE = re.compile(rb"(?:%s|\((?:%s(?: %s)*)?\))(?: (?:%s|\((?:%s(?: %s)*)?\)))*\Z" % ((_PLAIN,) * 6))
_atoms: dict[bytes, Atom] = {}  # an Atom is immutable: one per distinct text (commands repeat their words)


def _plain_atom(value: bytes) -> Atom:
    atom = _atoms.get(value)
    if atom is None:
        atom = Atom(value.decode("ascii"))
        if len(_atoms) < 4096:
            _atoms[value] = atom
    return atom


def simple_tokens(data: bytes, pos: int) -> list[Token] | None:
    """The tokens of ``data[pos:]`` when it is made only of plain atoms and flat lists of them (see above);
    None otherwise, and the caller runs the general lexer (which also finds every error)."""
    if not _SIMPLE_LINE.match(data, pos):
        return None
    out: list[Token] = []
    current: list[Token] | None = None  # the list being read
    for word in data[pos:].split(b" "):  # checked above: atoms hold no space or parenthesis, lists are flat
        if current is not None:
            if word[-1:] == b")":
                current.append(_plain_atom(word[:-1]))
                current = None
            else:
                current.append(_plain_atom(word))
        elif word[:1] != b"(":
            out.append(_plain_atom(word))
        elif word[-1:] == b")":  # "(x)" or "()"
            out.append([_plain_atom(word[1:-1])] if len(word) > 2 else [])
        else:
            current = [_plain_atom(word[1:])]
            out.append(current)
    return out


def literal_announcement(line: bytes) -> tuple[int, bool] | None:
    """If ``line`` (without CRLF) ends with ``{n}`` or ``{n+}``: (n, non-synchronising).

    The server uses this to decide, before reading, whether a literal follows and
    whether it is within the configured limit.
    """
    if not line.endswith(b"}"):
        return None
    start = line.rfind(b"{")
    if start < 0:
        return None
    spec = line[start + 1 : -1]
    plus = spec.endswith(b"+")
    if plus:
        spec = spec[:-1]
    if not spec.isdigit() or len(spec) > 12:
        return None
    return int(spec), plus


def as_text(token: Token, what: str = "argument") -> str:
    """An astring's value as text (UTF-8 allowed); lists are a ParseError."""
    if isinstance(token, Atom):
        return token.value
    if isinstance(token, String):
        try:
            return token.value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"{what} is not UTF-8") from exc
    raise ParseError(f"{what} must be a string, not a list")


def as_bytes(token: Token, what: str = "argument") -> bytes:
    if isinstance(token, Atom):
        return token.value.encode("ascii")
    if isinstance(token, String):
        return token.value
    raise ParseError(f"{what} must be a string, not a list")


def as_list(token: Token, what: str = "argument") -> list:
    if not isinstance(token, list):
        raise ParseError(f"{what} must be a parenthesised list")
    return token
