"""Byte-exact MIME navigation for ``BODY[section]`` (RFC 3501 §6.4.5).

The store caches BODYSTRUCTURE; body sections must be cut from the raw bytes exactly
as stored, so this works on byte offsets and never re-encodes anything. The parts are
the store's own ``mimetree`` (same boundaries, unfolding, RFC 2231 joining and caps as
the cached BODYSTRUCTURE), and part numbers resolve as Dovecot resolves them: a
message/rfc822 part ``n`` holds the whole enclosed message (``BODY[n]``), its header
and text are ``n.HEADER`` and ``n.TEXT``, its parts ``n.1``, ``n.2``...
"""

from __future__ import annotations

import binascii
import quopri
import re
import threading
from collections import OrderedDict

from agents.store import mimetree

_FIELD_START = re.compile(rb"^([^\s:]+)[ \t]*:", re.M)
TREES_KEPT = 4  # parsed messages kept: a client fetching parts one by one does not re-parse each time
TREE_CACHE_MAX = 4 * 1024 * 1024  # larger messages are parsed each time rather than pinned in memory
_trees: OrderedDict[tuple[int, int], tuple[bytes, mimetree.Part]] = OrderedDict()
_trees_lock = threading.Lock()


def tree(raw: bytes) -> mimetree.Part:
    """The part tree of ``raw``, from a small cache of the last messages parsed (checked byte for byte)."""
    if len(raw) > TREE_CACHE_MAX:
        return mimetree.parse(raw)
    key = (len(raw), hash(raw))
    with _trees_lock:
        hit = _trees.get(key)
        if hit is not None and hit[0] == raw:
            _trees.move_to_end(key)
            return hit[1]
    root = mimetree.parse(raw)
    with _trees_lock:
        _trees[key] = (raw, root)
        while len(_trees) > TREES_KEPT:
            _trees.popitem(last=False)
    return root


def section_bytes(raw: bytes, parts: tuple[int, ...], text: str, fields: tuple[str, ...]) -> bytes:
    """The bytes of ``BODY[parts.text (fields)]``; empty if the section does not exist."""
    if not parts:  # the message itself: no need for its parts
        if not text:
            return raw
        return _message_section(raw, 0, mimetree.header_end(raw, 0, len(raw)), len(raw), text, fields)
    part = mimetree.find(tree(raw), parts)
    if part is None:
        return b""
    if not text:
        return raw[part.body : part.end]
    if text == "MIME":
        return raw[part.start : part.body]
    if part.kind != "message":  # HEADER and TEXT of a part exist only for message/rfc822
        return b""
    message = part.children[0]
    return _message_section(raw, message.start, message.body, message.end, text, fields)


def _message_section(raw: bytes, start: int, body: int, end: int, text: str, fields: tuple[str, ...]) -> bytes:
    if text == "TEXT":
        return raw[body:end]
    if text == "HEADER":
        return raw[start:body]
    return header_fields(raw[start:body], fields, exclude=text.endswith(".NOT"))


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


class UnknownCte(ValueError):
    """BINARY of a part whose Content-Transfer-Encoding we cannot undo (answer NO [UNKNOWN-CTE])."""


_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


_CTE_FIELD = re.compile(rb"^content-transfer-encoding[ \t]*:[^\n]*\n(?:[ \t][^\n]*\n)*", re.I | re.M)
_TRAILING_WSP = re.compile(rb"[ \t]+(?=\r?\n|\Z)")


def binary_section(raw: bytes, parts: tuple[int, ...]) -> bytes:
    """The content of ``BINARY[parts]`` (RFC 3516): the part's body with its transfer encoding undone.

    A multipart and an enclosed message come as they are; a part that does not exist is empty.
    The whole message (no part number) comes with every base64 and quoted-printable leaf decoded
    and its Content-Transfer-Encoding field saying ``binary``, as Dovecot sends it. Raises
    UnknownCte for an encoding other than 7bit, 8bit, binary, base64 and quoted-printable.
    """
    root = tree(raw)
    if not parts:
        pieces, pos = [], 0
        for leaf in mimetree.walk(root):
            if leaf.kind != "leaf" or _encoding(leaf) in ("7bit", "8bit", "binary"):
                continue
            header = raw[leaf.start : leaf.body]
            pieces += [raw[pos : leaf.start], _CTE_FIELD.sub(b"Content-Transfer-Encoding: binary\r\n", header, 1),
                       _decode(raw[leaf.body : leaf.end], _encoding(leaf))]
            pos = leaf.end
        return b"".join(pieces) + raw[pos:]
    part = mimetree.find(root, parts)
    if part is None:
        return b""
    body = raw[part.body : part.end]
    if part.kind != "leaf":
        return body
    return _decode(body, _encoding(part))


def _encoding(part: mimetree.Part) -> str:
    return (part.fields.get("content-transfer-encoding") or "7bit").strip().lower()


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding in ("7bit", "8bit", "binary"):
        return body
    if encoding == "base64":
        data = _NOT_BASE64.sub(b"", body.split(b"=", 1)[0])
        data = data[: len(data) - len(data) % 4] if len(data) % 4 == 1 else data
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4)) if data else b""
    if encoding == "quoted-printable":  # RFC 2045 §6.7 (3): white space at a line's end is not content
        return quopri.decodestring(_TRAILING_WSP.sub(b"", body))
    raise UnknownCte(encoding)
