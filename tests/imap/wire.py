"""Reading IMAP responses as values, so two servers' answers compare after normalising.

``fetches`` turns a session transcript into ``{seq: {item: value}}``: strings (quoted or
literal alike) become bytes, NIL None, numbers int, lists lists. Used by the differential
tests against Dovecot, where the same data may come as a quoted string from one server and
as a literal from the other (RFC 3501 allows both).
"""

from __future__ import annotations

import re
import socket
from typing import Any

_FETCH = re.compile(rb"^\* (\d+) FETCH ", re.M)


def _value(data: bytes, pos: int) -> tuple[Any, int]:
    """One value at ``pos`` (spaces before it skipped); returns (value, position after it).

    Raises ValueError on a truncated response, so no loop here can run past the data.
    """
    while data[pos : pos + 1] == b" ":
        pos += 1
    char = data[pos : pos + 1]
    if not char:
        raise ValueError("truncated IMAP response")
    if char == b"(":
        out: list[Any] = []
        pos += 1
        while True:
            while data[pos : pos + 1] == b" ":
                pos += 1
            if data[pos : pos + 1] == b")":
                return out, pos + 1
            item, pos = _value(data, pos)
            out.append(item)
    if char == b'"':
        buf = bytearray()
        pos += 1
        while data[pos : pos + 1] != b'"':
            if pos >= len(data):
                raise ValueError("unterminated quoted string")
            if data[pos : pos + 1] == b"\\":
                pos += 1
            buf += data[pos : pos + 1]
            pos += 1
        return bytes(buf), pos + 1
    if char == b"~" and data[pos + 1 : pos + 2] == b"{":  # literal8 (RFC 3516)
        pos += 1
        char = b"{"
    if char == b"{":
        end = data.index(b"}", pos)
        size = int(data[pos + 1 : end].rstrip(b"+"))
        start = data.index(b"\n", end) + 1
        return data[start : start + size], start + size
    end = pos
    depth = 0
    while end < len(data):  # an atom; BODY[HEADER.FIELDS (A B)]<0> holds spaces and parentheses in brackets
        c = data[end : end + 1]
        if c == b"[":
            depth += 1
        elif c == b"]":
            depth -= 1
        elif depth == 0 and c in (b" ", b")", b"(", b"\r", b"\n"):
            break
        end += 1
    if end == pos:
        raise ValueError(f"unexpected {data[pos:pos + 1]!r} in an IMAP response")
    atom = data[pos:end]
    if atom.upper() == b"NIL":
        return None, end
    if atom.isdigit():
        return int(atom), end
    return atom.decode("ascii", "replace"), end


def fetches(transcript: bytes) -> dict[int, dict[str, Any]]:
    """Every ``* n FETCH (...)`` of a transcript, merged per sequence number."""
    out: dict[int, dict[str, Any]] = {}
    for match in _FETCH.finditer(transcript):
        items, _ = _value(transcript, match.end())
        merged = out.setdefault(int(match.group(1)), {})
        for i in range(0, len(items) - 1, 2):
            merged[str(items[i]).upper()] = items[i + 1]
    return out


def run_script(host: str, port: int, login: tuple[str, str], script: bytes, timeout: float = 30) -> bytes:
    """Log in, send ``script`` (commands, CRLF-ended) then LOGOUT, and return all the server said."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(b'l LOGIN "%s" "%s"\r\n' % (login[0].encode(), login[1].encode()) + script + b"zz LOGOUT\r\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\nzz OK" in b"".join(chunks[-2:]):
                break
        return b"".join(chunks)


def norm_body(value: Any) -> Any:
    """A BODY/BODYSTRUCTURE value with the case-insensitive tokens lowercased (RFC 2045: type, subtype,
    parameter names, transfer encoding, disposition type); parameter values are kept as they are."""
    if not isinstance(value, list) or not value:
        return value
    if isinstance(value[0], list):  # multipart: parts, then subtype and extension data
        count = next((i for i, p in enumerate(value) if not isinstance(p, list)), len(value))
        parts = [norm_body(p) for p in value[:count]]
        rest = value[count:]
        out = parts + [_lower(rest[0]) if rest else None]
        if len(rest) > 1:
            out.append(_params(rest[1]))
        if len(rest) > 2:
            out.append(_disposition(rest[2]))
        out.extend(rest[3:])
        return out
    out = [_lower(value[0]), _lower(value[1]), _params(value[2]), *value[3:5], _lower(value[5]), *value[6:]]
    if out[0] == b"message" and out[1] == b"rfc822" and len(out) > 8:
        out[8] = norm_body(out[8])
        ext = 11
    elif out[0] == b"text":
        ext = 8
    else:
        ext = 7
    if len(out) > ext + 1:
        out[ext + 1] = _disposition(out[ext + 1])
    return out


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, bytes) else value


def _params(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    return [_lower(v) if i % 2 == 0 else v for i, v in enumerate(value)]


def _disposition(value: Any) -> Any:
    if not isinstance(value, list) or not value:
        return value
    return [_lower(value[0]), _params(value[1]) if len(value) > 1 else None]
