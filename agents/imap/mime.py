"""Byte-exact MIME navigation for ``BODY[section]`` (RFC 3501 §6.4.5).

The store caches BODYSTRUCTURE; body sections must be cut from the raw bytes exactly
as stored, so this splitter works on bytes and never re-encodes anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CT_RE = re.compile(rb"^content-type:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.I | re.M)
_BOUNDARY_RE = re.compile(rb"""boundary\s*=\s*(?:"([^"]{1,200})"|([^\s;"]{1,200}))""", re.I)
_FIELD_START = re.compile(rb"^([^\s:]+)[ \t]*:", re.M)
MAX_DEPTH = 20


@dataclass
class Entity:
    header: bytes  # with the blank line that ends it (if there was one)
    body: bytes

    def content_type(self) -> tuple[bytes, bytes | None]:
        """(type/subtype lowercased, boundary or None); text/plain by default."""
        m = _CT_RE.search(self.header)
        if not m:
            return b"text/plain", None
        value = m.group(1)
        ctype = value.split(b";", 1)[0].strip().lower()
        b = _BOUNDARY_RE.search(value)
        boundary = (b.group(1) or b.group(2)) if b else None
        return ctype, boundary


def parse(raw: bytes) -> Entity:
    """Split a message or body part into header (ending blank line included) and body."""
    if raw.startswith(b"\r\n"):
        return Entity(b"\r\n", raw[2:])
    if raw.startswith(b"\n"):
        return Entity(b"\n", raw[1:])
    for sep in (b"\r\n\r\n", b"\n\n"):
        pos = raw.find(sep)
        if pos >= 0:
            other = raw.find(b"\n\n" if sep == b"\r\n\r\n" else b"\r\n\r\n")
            if other >= 0 and other < pos:
                continue
            return Entity(raw[: pos + len(sep)], raw[pos + len(sep) :])
    return Entity(raw, b"")


def split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """The raw parts between ``--boundary`` lines (the line break before a delimiter belongs to it)."""
    delimiter = b"--" + boundary
    parts: list[bytes] = []
    pos = 0
    start: int | None = None
    while True:
        idx = body.find(delimiter, pos)
        if idx < 0:
            break
        at_line_start = idx == 0 or body[idx - 1 : idx] == b"\n"
        if not at_line_start:
            pos = idx + len(delimiter)
            continue
        if start is not None:
            end = idx
            if body[end - 2 : end] == b"\r\n":
                end -= 2
            elif body[end - 1 : end] == b"\n":
                end -= 1
            parts.append(body[start:end])
        after = idx + len(delimiter)
        if body[after : after + 2] == b"--":
            return parts
        eol = body.find(b"\n", after)
        if eol < 0:
            break
        start = eol + 1
        pos = start
    if start is not None:
        parts.append(body[start:])
    return parts


def children(entity: Entity) -> list[Entity] | None:
    """Sub-parts of a multipart entity, or None if it is not multipart."""
    ctype, boundary = entity.content_type()
    if not ctype.startswith(b"multipart/") or not boundary:
        return None
    return [parse(p) for p in split_multipart(entity.body, boundary)]


def _step(entity: Entity, number: int) -> Entity | None:
    subs = children(entity)
    if subs is not None:
        return subs[number - 1] if 0 < number <= len(subs) else None
    ctype, _ = entity.content_type()
    if ctype == b"message/rfc822":
        return _step(parse(entity.body), number)
    return entity if number == 1 else None


def section_bytes(raw: bytes, parts: tuple[int, ...], text: str, fields: tuple[str, ...]) -> bytes:
    """The bytes of ``BODY[parts.text (fields)]``; empty if the section does not exist."""
    top = parse(raw)
    entity: Entity | None = top
    for number in parts[:MAX_DEPTH]:
        if entity is None:
            return b""
        entity = _step(entity, number)
    if entity is None:
        return b""
    if not text:
        return raw if not parts else entity.body
    if text == "MIME":
        return entity.header
    message = top
    if parts:
        if entity.content_type()[0] != b"message/rfc822":
            return b""
        message = parse(entity.body)
    if text == "TEXT":
        return message.body
    if text == "HEADER":
        return message.header
    return header_fields(message.header, fields, exclude=text.endswith(".NOT"))


def header_fields(header: bytes, names: tuple[str, ...], exclude: bool) -> bytes:
    """The header fields (with their folded lines) named, or all others; ends with a blank line."""
    wanted = {n.lower().encode("ascii", "ignore") for n in names}
    out = bytearray()
    starts = [m.start() for m in _FIELD_START.finditer(header)]
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(header)
        chunk = header[start:end]
        name = chunk.split(b":", 1)[0].strip().lower()
        if (name in wanted) != exclude:
            stripped = chunk.rstrip(b"\r\n")
            out += stripped + b"\r\n"
    out += b"\r\n"
    return bytes(out)
