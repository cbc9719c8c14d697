"""FETCH data items (RFC 3501 §6.4.5): parsing of ``BODY.PEEK[1.2.HEADER.FIELDS (A)]<0.100>`` etc."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .lexer import Atom, Lexer, ParseError, Token, as_text

SIMPLE = {"FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822",
          "RFC822.HEADER", "RFC822.TEXT", "MODSEQ"}
MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_ITEM_RE = re.compile(r"(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[(.*)\](?:<(\d{1,10})(?:\.(\d{1,10}))?>)?\Z",
                      re.S | re.I)
_SECTION_RE = re.compile(r"((?:[1-9]\d{0,5}\.)*[1-9]\d{0,5})?\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?"
                         r"(?: (.*))?\Z", re.S | re.I)


@dataclass(frozen=True)
class Section:
    parts: tuple[int, ...] = ()
    text: str = ""  # "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
    fields: tuple[str, ...] = ()

    def label(self) -> str:
        spec = ".".join(str(p) for p in self.parts)
        if self.text:
            spec = f"{spec}.{self.text}" if spec else self.text
        if self.fields:
            spec += " (" + " ".join(self.fields) + ")"
        return spec


@dataclass(frozen=True)
class FetchItem:
    name: str  # FLAGS, UID, …, BODY (with or without a section), BINARY, BINARY.SIZE
    section: Section | None = None
    partial: tuple[int, int | None] | None = None
    peek: bool = False

    def label(self) -> str:
        """How the item is named in the response (``BODY[1.TEXT]<0>``)."""
        if self.section is None:
            return self.name
        label = f"{self.name}[{self.section.label()}]"
        if self.partial is not None:
            label += f"<{self.partial[0]}>"
        return label

    @property
    def sets_seen(self) -> bool:
        return (self.section is not None and not self.peek and self.name in ("BODY", "BINARY")) or self.name in (
            "RFC822", "RFC822.TEXT")


_parsed: dict[tuple[str, ...] | str, tuple[FetchItem, ...]] = {}


def parse_fetch_items(token: Token) -> tuple[FetchItem, ...]:
    """The items of a FETCH: a macro, one item, or a parenthesised list of items.

    Items are immutable, so the item lists of recent FETCHes (a client asks for the same few again and
    again) are parsed once: kept by their atoms' text. Raises ParseError."""
    if isinstance(token, Atom):
        key: tuple[str, ...] | str | None = token.value
    elif isinstance(token, list) and all(isinstance(t, Atom) for t in token):
        key = tuple(t.value for t in token)
    else:
        key = None
    if key is None:
        return _parse_fetch_items(token)
    found = _parsed.get(key)
    if found is None:
        found = _parse_fetch_items(token)
        if len(_parsed) >= 1024:
            _parsed.clear()
        _parsed[key] = found
    return found


def _parse_fetch_items(token: Token) -> tuple[FetchItem, ...]:
    if isinstance(token, Atom) and token.upper() in MACROS:
        return tuple(FetchItem(n) for n in MACROS[token.upper()])
    tokens = token if isinstance(token, list) else [token]
    if not tokens:
        raise ParseError("empty FETCH item list")
    items = tuple(parse_item(t) for t in tokens)
    return items


def parse_item(token: Token) -> FetchItem:
    if not isinstance(token, Atom):
        raise ParseError("FETCH items are atoms")
    text = token.value
    upper = text.upper()
    if upper in SIMPLE:
        return FetchItem(upper)
    m = _ITEM_RE.match(text)
    if not m:
        raise ParseError(f"unknown FETCH item {text[:30]}")
    kind = m.group(1).upper()
    peek = kind.endswith(".PEEK")
    name = kind.removesuffix(".PEEK")
    section = parse_section(m.group(2), binary=name.startswith("BINARY"))
    partial = None
    if m.group(3) is not None:
        if name == "BINARY.SIZE":
            raise ParseError("BINARY.SIZE takes no partial")
        length = int(m.group(4)) if m.group(4) is not None else None
        if length == 0 and m.group(4) is not None:
            length = 0
        partial = (int(m.group(3)), length)
    return FetchItem(name, section, partial, peek)


def parse_section(spec: str, binary: bool = False) -> Section:
    m = _SECTION_RE.match(spec)
    if not m:
        raise ParseError("bad section specification")
    parts_text, text, rest = m.groups()
    parts = tuple(int(p) for p in parts_text.split(".")) if parts_text else ()
    text = (text or "").upper()
    if binary and text:
        raise ParseError("BINARY takes only a part number")
    if text == "MIME" and not parts:
        raise ParseError("MIME needs a part number")
    if spec and not parts and not text:
        raise ParseError("bad section specification")
    if parts_text and text and spec[len(parts_text)] != ".":
        raise ParseError("bad section specification")
    fields: tuple[str, ...] = ()
    if text.startswith("HEADER.FIELDS"):
        if rest is None:
            raise ParseError("HEADER.FIELDS needs a list of field names")
        lexer = Lexer(rest.encode("utf-8"))
        names = lexer.token()
        lexer.end()
        if not isinstance(names, list) or not names:
            raise ParseError("HEADER.FIELDS needs a list of field names")
        fields = tuple(as_text(n).upper() for n in names)
        if any(not f or any(c in f for c in ": \t") for f in fields):
            raise ParseError("bad header field name")
    elif rest is not None:
        raise ParseError("bad section specification")
    return Section(parts, text, fields)
