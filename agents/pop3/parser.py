"""POP3 command parsing: one line of bytes in, one typed command (or a parse error) out.

Pure: no I/O, no storage, no Django, so it can be fuzzed on its own. The
grammar is RFC 1939 with the extensions of RFC 2449 (CAPA), RFC 2595 (STLS)
and RFC 5034 (AUTH). Keywords are case-insensitive; arguments are separated by
single spaces (we accept runs of spaces and tabs, as most servers do). PASS
takes the rest of the line, because passwords may hold spaces.

APOP is deliberately not supported: it needs the plaintext password on the
server, and mailbox passwords are stored hashed. It parses as an unknown command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_COMMAND_LINE = 255  # octets including CRLF (RFC 2449 section 4)
MAX_SASL_LINE = 2048  # a SASL continuation line (base64 of authzid NUL authcid NUL password)
MAX_MESSAGE_NUMBER = 10**9  # more than any maildrop; keeps ints small and parsing bounded

_NUMBER = re.compile(rb"[0-9]{1,10}\Z")
_ONE_NUMBER = re.compile(rb"([A-Za-z]{4}) ([0-9]{1,10})\r?\n?\Z")  # the common RETR/LIST/UIDL/DELE n
_SPACES = re.compile(rb"[ \t]+")
_RETR = re.compile(rb"[Rr][Ee][Tt][Rr] ([0-9]{1,10})\r?\n?\Z")


class CommandError(ValueError):
    """The line is not a valid command; the message is safe to send to the client."""


@dataclass(frozen=True)
class Command:
    """Base of all commands; ``name`` is the upper-case keyword."""

    @property
    def name(self) -> str:
        return type(self).__name__.upper()


@dataclass(frozen=True)
class User(Command):
    user: str


@dataclass(frozen=True)
class Pass(Command):
    password: str


@dataclass(frozen=True)
class Auth(Command):
    """AUTH with no mechanism lists mechanisms; ``initial`` is the raw initial response or None."""

    mechanism: str | None
    initial: str | None


@dataclass(frozen=True)
class Stat(Command):
    pass


@dataclass(frozen=True)
class List(Command):
    msg: int | None


@dataclass(frozen=True)
class Uidl(Command):
    msg: int | None


@dataclass(frozen=True)
class Retr(Command):
    msg: int


@dataclass(frozen=True)
class Top(Command):
    msg: int
    lines: int


@dataclass(frozen=True)
class Dele(Command):
    msg: int


@dataclass(frozen=True)
class Noop(Command):
    pass


@dataclass(frozen=True)
class Rset(Command):
    pass


@dataclass(frozen=True)
class Quit(Command):
    pass


@dataclass(frozen=True)
class Capa(Command):
    pass


@dataclass(frozen=True)
class Stls(Command):
    pass


def strip_line_end(line: bytes) -> bytes:
    """The line without its CRLF (a bare LF is accepted too, as clients send it)."""
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith(b"\n"):
        return line[:-1]
    return line


def _number(token: bytes, what: str = "message number") -> int:
    if not _NUMBER.match(token):
        raise CommandError(f"invalid {what}")
    value = int(token)
    if value > MAX_MESSAGE_NUMBER:
        raise CommandError(f"{what} too large")
    return value


def _line_count(token: bytes) -> int:
    """TOP's line count: RFC 1939 sends the whole body when it is beyond the body's end, so
    any count of digits is taken (a huge one clamped); negative or non-numeric is refused."""
    if not token.isdigit() or not token.isascii():
        raise CommandError("invalid line count")
    return int(token) if len(token) <= 9 else 999_999_999


def _text(raw: bytes) -> str:
    """Arguments are ASCII or UTF-8 (RFC 6856); anything with control characters is refused."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("argument is not valid UTF-8") from None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise CommandError("control character in argument")
    return text


def _expect(args: list[bytes], low: int, high: int) -> None:
    if not low <= len(args) <= high:
        raise CommandError("wrong number of arguments")


def retr_number(line: bytes) -> int | None:
    """The message number of a well-formed ``RETR n`` line, else None (then :func:`parse_command` it).

    A downloading client sends thousands of these: one match, no command object.
    """
    match = _RETR.match(line)
    if match is None:
        return None
    number = int(match.group(1))
    return number if number <= MAX_MESSAGE_NUMBER else None


def parse_command(line: bytes) -> Command:
    """Parse one command line (with or without its CRLF).

    Raises :class:`CommandError` for anything malformed: unknown keywords,
    wrong argument counts, bad numbers, NUL or other control characters.
    The caller enforces the line-length limit before calling.
    """
    fast = _ONE_NUMBER.match(line)
    if fast is not None:  # a client downloading a maildrop sends thousands of these
        numbered = _NUMBERED.get(fast.group(1).upper())
        if numbered is not None:
            return numbered(_number(fast.group(2)))
    line = strip_line_end(line)
    if b"\0" in line or b"\r" in line or b"\n" in line:
        raise CommandError("control character in command")
    keyword, _, rest = line.lstrip(b" \t").partition(b" ")
    keyword = keyword.rstrip(b"\t")
    if not keyword:
        raise CommandError("empty command")
    if not keyword.isalpha() or len(keyword) > 4:
        raise CommandError("unknown command")
    verb = keyword.upper().decode("ascii")

    if verb == "PASS":
        # The password is the rest of the line, spaces included (RFC 1939 leaves this open;
        # Dovecot and Cyrus do the same). Only the one separating space is removed.
        if not rest:
            raise CommandError("PASS needs a password")
        return Pass(_text(rest))

    args = [a for a in _SPACES.split(rest.strip(b" \t")) if a] if rest.strip(b" \t") else []

    if verb in ("STAT", "NOOP", "RSET", "QUIT", "CAPA", "STLS"):
        _expect(args, 0, 0)
        return {"STAT": Stat, "NOOP": Noop, "RSET": Rset, "QUIT": Quit, "CAPA": Capa, "STLS": Stls}[verb]()
    if verb == "USER":
        _expect(args, 1, 1)
        return User(_text(args[0]))
    if verb in ("LIST", "UIDL"):
        _expect(args, 0, 1)
        msg = _number(args[0]) if args else None
        return List(msg) if verb == "LIST" else Uidl(msg)
    if verb in ("RETR", "DELE"):
        _expect(args, 1, 1)
        return Retr(_number(args[0])) if verb == "RETR" else Dele(_number(args[0]))
    if verb == "TOP":
        _expect(args, 2, 2)
        return Top(_number(args[0]), _line_count(args[1]))
    if verb == "AUTH":
        _expect(args, 0, 2)
        if not args:
            return Auth(None, None)
        mechanism = _text(args[0]).upper()
        if not re.fullmatch(r"[A-Z0-9_-]{1,20}", mechanism):
            raise CommandError("invalid mechanism name")
        return Auth(mechanism, _text(args[1]) if len(args) > 1 else None)
    raise CommandError("unknown command")


_NUMBERED: dict[bytes, type[Retr] | type[Dele] | type[List] | type[Uidl]] = {
    b"RETR": Retr, b"DELE": Dele, b"LIST": List, b"UIDL": Uidl
}
