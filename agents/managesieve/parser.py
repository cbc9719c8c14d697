"""ManageSieve (RFC 5804) wire format, pure: commands from bytes, responses to bytes.

A command is an atom then strings (quoted, or literals ``{n+}``/``{n}`` followed by CRLF
and n octets) or numbers, ending in CRLF. :func:`literal_at_end` tells the server how many
octets a line announces, so it can read them before :func:`parse` sees the whole command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINE = 8 * 1024
MAX_LITERAL = 1 << 20  # one script is far smaller (mailcore.sieve.MAX_SCRIPT); this bounds the read
_LITERAL = re.compile(rb"\{(\d{1,9})(\+?)\}\r?\n\Z")
_ATOM = re.compile(rb"[A-Za-z]+")
_NUMBER = re.compile(rb"\d{1,10}")


class ParseError(ValueError):
    pass


@dataclass(frozen=True)
class Command:
    name: str  # upper case
    args: tuple[str | int, ...]


def literal_at_end(line: bytes) -> int | None:
    """The octet count a line ending in ``{n+}`` (or ``{n}``) announces, or None."""
    found = _LITERAL.search(line)
    return int(found.group(1)) if found else None


def _string(data: bytes, pos: int) -> tuple[str | int, int]:
    char = data[pos:pos + 1]
    if char == b'"':
        out = bytearray()
        pos += 1
        while pos < len(data):
            c = data[pos:pos + 1]
            if c == b"\\":
                if data[pos + 1:pos + 2] not in (b'"', b"\\"):
                    raise ParseError("bad escape in a quoted string")
                out += data[pos + 1:pos + 2]
                pos += 2
            elif c == b'"':
                return out.decode("utf-8"), pos + 1
            elif c in (b"\r", b"\n"):
                raise ParseError("line end inside a quoted string")
            else:
                out += c
                pos += 1
        raise ParseError("unterminated quoted string")
    if char == b"{":
        found = re.compile(rb"\{(\d{1,9})\+?\}\r\n").match(data, pos)
        if not found:
            raise ParseError("bad literal")
        size = int(found.group(1))
        start = found.end()
        if size > MAX_LITERAL or start + size > len(data):
            raise ParseError("literal too long or cut short")
        return data[start:start + size].decode("utf-8"), start + size
    number = _NUMBER.match(data, pos)
    if number:
        return int(number.group(0)), number.end()
    raise ParseError("expected a string")


def parse(data: bytes) -> Command:
    """One whole command (literals included, CRLF at the end); :class:`ParseError` if malformed."""
    if not data.endswith(b"\n"):
        raise ParseError("command not ended by CRLF")
    body = data[:-2] if data.endswith(b"\r\n") else data[:-1]
    atom = _ATOM.match(body)
    if not atom:
        raise ParseError("expected a command name")
    pos, args = atom.end(), []
    try:
        while pos < len(body):
            if body[pos:pos + 1] != b" ":
                raise ParseError("expected a space between arguments")
            value, pos = _string(body, pos + 1)
            args.append(value)
    except UnicodeDecodeError:
        raise ParseError("a string is not UTF-8") from None
    return Command(atom.group(0).decode("ascii").upper(), tuple(args))


def quoted(text: str) -> bytes:
    """A string as ManageSieve writes it: quoted if short and one line, else a literal."""
    data = text.encode("utf-8")
    if len(data) < 1024 and b"\r" not in data and b"\n" not in data and b"\0" not in data:
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(data) + data


def response(kind: str, text: str = "", code: str = "") -> bytes:
    """``OK``/``NO``/``BYE`` with an optional ``(CODE)`` and text."""
    out = kind.encode()
    if code:
        out += b" (" + code.encode() + b")"
    if text:
        out += b" " + quoted(text)
    return out + b"\r\n"
