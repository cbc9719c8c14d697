"""Byte-exact MIME navigation for ``BODY[section]`` (RFC 3501 §6.4.5).

The store caches BODYSTRUCTURE; body sections must be cut from the raw bytes exactly
as stored, so this works on byte offsets and never re-encodes anything. The parts are
the store's own ``mimetree`` (same boundaries, unfolding, RFC 2231 joining and caps as
the cached BODYSTRUCTURE), and part numbers resolve as Dovecot resolves them: a
message/rfc822 part ``n`` holds the whole enclosed message (``BODY[n]``), its header
and text are ``n.HEADER`` and ``n.TEXT``, its parts ``n.1``, ``n.2``...
"""

from __future__ import annotations

import re

from agents.store import mimetree

_FIELD_START = re.compile(rb"^([^\s:]+)[ \t]*:", re.M)


def section_bytes(raw: bytes, parts: tuple[int, ...], text: str, fields: tuple[str, ...]) -> bytes:
    """The bytes of ``BODY[parts.text (fields)]``; empty if the section does not exist."""
    root = mimetree.parse(raw)
    if not parts:
        message: mimetree.Part | None = root
        if not text:
            return raw
    else:
        part = mimetree.find(root, parts)
        if part is None:
            return b""
        if not text:
            return raw[part.body : part.end]
        if text == "MIME":
            return raw[part.start : part.body]
        message = part.children[0] if part.kind == "message" else None
    if message is None:
        return b""
    if text == "TEXT":
        return raw[message.body : message.end]
    header = raw[message.start : message.body]
    if text == "HEADER":
        return header
    return header_fields(header, fields, exclude=text.endswith(".NOT"))


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
