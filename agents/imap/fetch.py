"""FETCH responses for one message: index data directly, body data from the raw bytes.

``render`` reads the message file only when an item needs it (BODY[...], RFC822*), and
ENVELOPE/BODYSTRUCTURE only from the store's cache, so ``FETCH 1:* (FLAGS)`` and
envelope lists never open a message file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from . import responses as r
from .fetchitems import FetchItem
from .mime import binary_section, section_bytes

BODY_ITEMS = {"RFC822", "RFC822.HEADER", "RFC822.TEXT", "BINARY", "BINARY.SIZE"}


class Meta(Protocol):
    @property
    def uid(self) -> int: ...
    @property
    def flags(self) -> frozenset[str]: ...
    @property
    def size(self) -> int: ...
    @property
    def modseq(self) -> int: ...
    @property
    def internaldate(self) -> Any: ...


class MessageData(Protocol):
    """Per-message data beyond the index row (the store's Folder provides these)."""

    def read(self, uid: int) -> bytes: ...
    def envelope(self, uid: int) -> Any: ...
    def bodystructure(self, uid: int) -> Any: ...


def literal8(data: bytes) -> bytes:
    """A literal, or a literal8 (``~{n}``, RFC 3516) when the data holds a NUL."""
    return (b"~{%d}\r\n" if b"\x00" in data else b"{%d}\r\n") % len(data) + data


def needs_body(items: tuple[FetchItem, ...]) -> bool:
    return any(i.section is not None or i.name in BODY_ITEMS for i in items)


def render(seq: int, meta: Meta, items: tuple[FetchItem, ...], data: MessageData, *, with_uid: bool = False,
           with_modseq: bool = False, flags: frozenset[str] | None = None,
           recent: bool = False, envelope: Callable[[int], Any] | None = None) -> bytes:
    """``* seq FETCH (...)`` for one message.

    ``with_uid`` adds UID (UID FETCH always returns it); ``with_modseq`` adds MODSEQ
    (CONDSTORE enabled and CHANGEDSINCE, or a STORE response).
    """
    out: list[bytes] = []
    raw: bytes | None = None
    seen: set[str] = set()

    def message() -> bytes:
        nonlocal raw
        if raw is None:
            raw = data.read(meta.uid)
        return raw

    current_flags = meta.flags if flags is None else flags
    if with_uid and not any(i.name == "UID" for i in items):
        out.append(b"UID %d" % meta.uid)
    for item in items:
        label = item.label()
        if label in seen:
            continue
        seen.add(label)
        name = item.name
        if name == "FLAGS":
            shown = current_flags | {"\\Recent"} if recent else current_flags
            out.append(b"FLAGS " + r.flags(shown))
        elif name == "UID":
            out.append(b"UID %d" % meta.uid)
        elif name == "INTERNALDATE":
            out.append(b"INTERNALDATE " + r.internaldate(meta.internaldate))
        elif name == "RFC822.SIZE":
            out.append(b"RFC822.SIZE %d" % meta.size)
        elif name == "MODSEQ":
            out.append(b"MODSEQ (%d)" % meta.modseq)
        elif name == "ENVELOPE":
            env = envelope(meta.uid) if envelope else data.envelope(meta.uid)
            out.append(b"ENVELOPE " + r.envelope(env))
        elif name == "BODYSTRUCTURE":
            out.append(b"BODYSTRUCTURE " + r.bodystructure(data.bodystructure(meta.uid), True))
        elif name == "BODY" and item.section is None:
            out.append(b"BODY " + r.bodystructure(data.bodystructure(meta.uid), False))
        elif name == "RFC822":
            out.append(b"RFC822 " + r.literal(message()))
        elif name == "RFC822.HEADER":
            out.append(b"RFC822.HEADER " + r.literal(section_bytes(message(), (), "HEADER", ())))
        elif name == "RFC822.TEXT":
            out.append(b"RFC822.TEXT " + r.literal(section_bytes(message(), (), "TEXT", ())))
        if item.section is not None and name == "BODY":
            sec = item.section
            content = section_bytes(message(), sec.parts, sec.text, sec.fields)
            if item.partial is not None:
                start, length = item.partial
                content = content[start : start + length] if length is not None else content[start:]
            out.append(label.encode("utf-8", "replace") + b" " + r.literal(content))
        elif item.section is not None and name == "BINARY":
            content = binary_section(message(), item.section.parts)
            if item.partial is not None:
                start, length = item.partial
                content = content[start : start + length] if length is not None else content[start:]
            out.append(label.encode("ascii", "replace") + b" " + literal8(content))
        elif item.section is not None and name == "BINARY.SIZE":
            out.append(label.encode("ascii", "replace") + b" %d" % len(binary_section(message(), item.section.parts)))
        elif item.section is not None:
            raise ValueError(f"{name} is not supported")
    if with_modseq and not any(i.name == "MODSEQ" for i in items):
        out.append(b"MODSEQ (%d)" % meta.modseq)
    return b"* %d FETCH (" % seq + b" ".join(out) + b")\r\n"
