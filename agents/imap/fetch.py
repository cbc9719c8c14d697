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


WIRE_VERSION = 1  # of the ENVELOPE/BODYSTRUCTURE serialisers in responses.py: bump when their output changes
WIRE_ITEMS = {"ENVELOPE", "BODYSTRUCTURE"}
Wire = tuple[bytes, bytes, bytes]  # ENVELOPE, BODYSTRUCTURE, BODY as sent


def needs_body(items: tuple[FetchItem, ...]) -> bool:
    return any(i.section is not None or i.name in BODY_ITEMS for i in items)


def needs_wire(items: tuple[FetchItem, ...]) -> bool:
    """True if an item is served from the cached ENVELOPE/BODYSTRUCTURE (``BODY`` without a section too)."""
    return any(i.name in WIRE_ITEMS or (i.name == "BODY" and i.section is None) for i in items)


class WireData(Protocol):
    def wire(self, uids: list[int], version: int) -> dict[int, Wire]: ...
    def keep_wire(self, version: int, rows: list[tuple[int, bytes, bytes, bytes]]) -> None: ...
    def envelope(self, uid: int) -> Any: ...
    def bodystructure(self, uid: int) -> Any: ...


class WireCache:
    """The wire forms of ENVELOPE, BODYSTRUCTURE and BODY for a batch of messages, read in one query.

    The store keeps them in the index; a message without them (delivered before, or
    never fetched) gets them serialised from its cached summary here, and :meth:`save`
    hands those to the store so that the next FETCH only copies bytes.
    """

    def __init__(self, data: WireData, uids: list[int]) -> None:
        self.data = data
        self.known = data.wire(uids, WIRE_VERSION)
        self.made: list[tuple[int, bytes, bytes, bytes]] = []

    def __call__(self, uid: int) -> Wire:
        found = self.known.get(uid)
        if found is None:
            structure = self.data.bodystructure(uid)
            found = (r.envelope(self.data.envelope(uid)), r.bodystructure(structure, True),
                     r.bodystructure(structure, False))
            self.known[uid] = found
            self.made.append((uid, *found))
        return found

    def save(self) -> None:
        if self.made:
            self.data.keep_wire(WIRE_VERSION, self.made)
            self.made = []


INDEX_ITEMS = frozenset({"FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "MODSEQ", "ENVELOPE", "BODYSTRUCTURE", "BODY"})


def index_plan(items: tuple[FetchItem, ...], *, with_uid: bool, with_modseq: bool) -> tuple[str, ...] | None:
    """The item names in response order, worked out once per FETCH, when every item comes from the index
    row and the cached wire forms (no message file); None otherwise. Same order and de-duplication as
    :func:`render`."""
    names: list[str] = []
    if with_uid and not any(i.name == "UID" for i in items):
        names.append("UID")
    for item in items:
        if item.section is not None or item.name not in INDEX_ITEMS:
            return None
        if item.name not in names:
            names.append(item.name)
    if with_modseq and "MODSEQ" not in names:
        names.append("MODSEQ")
    return tuple(names)


def render_index(seq: int, meta: Meta, plan: tuple[str, ...], wire: Callable[[int], Wire] | None,
                 recent: bool = False) -> bytes:
    """``* seq FETCH (...)`` for a plan from :func:`index_plan`: no per-message look at the items, no file."""
    parts = []
    for name in plan:
        if name == "UID":
            parts.append(b"UID %d" % meta.uid)
        elif name == "ENVELOPE":
            parts.append(b"ENVELOPE " + wire(meta.uid)[0])  # type: ignore[misc]  # wire items come with a wire
        elif name == "FLAGS":
            parts.append(b"FLAGS " + r.flags(meta.flags | {"\\Recent"} if recent else meta.flags))
        elif name == "BODYSTRUCTURE":
            parts.append(b"BODYSTRUCTURE " + wire(meta.uid)[1])  # type: ignore[misc]
        elif name == "BODY":
            parts.append(b"BODY " + wire(meta.uid)[2])  # type: ignore[misc]
        elif name == "RFC822.SIZE":
            parts.append(b"RFC822.SIZE %d" % meta.size)
        elif name == "INTERNALDATE":
            parts.append(b"INTERNALDATE " + r.internaldate(meta.internaldate))
        else:  # MODSEQ
            parts.append(b"MODSEQ (%d)" % meta.modseq)
    return b"* %d FETCH (%s)\r\n" % (seq, b" ".join(parts))


def render(seq: int, meta: Meta, items: tuple[FetchItem, ...], data: MessageData, *, with_uid: bool = False,
           with_modseq: bool = False, flags: frozenset[str] | None = None,
           recent: bool = False, wire: Callable[[int], Wire] | None = None) -> bytes:
    """``* seq FETCH (...)`` for one message.

    ``with_uid`` adds UID (UID FETCH always returns it); ``with_modseq`` adds MODSEQ
    (CONDSTORE enabled and CHANGEDSINCE, or a STORE response).
    """
    out: list[bytes | tuple[bytes, bytes]] = []  # a literal is (its head, its content): copied once, at the end
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
            out.append(b"ENVELOPE " + (wire(meta.uid)[0] if wire else r.envelope(data.envelope(meta.uid))))
        elif name == "BODYSTRUCTURE":
            out.append(b"BODYSTRUCTURE " + (wire(meta.uid)[1] if wire else
                                            r.bodystructure(data.bodystructure(meta.uid), True)))
        elif name == "BODY" and item.section is None:
            out.append(b"BODY " + (wire(meta.uid)[2] if wire else r.bodystructure(data.bodystructure(meta.uid), False)))
        elif name == "RFC822":
            out.append(_literal(b"RFC822", message()))
        elif name == "RFC822.HEADER":
            out.append(_literal(b"RFC822.HEADER", section_bytes(message(), (), "HEADER", ())))
        elif name == "RFC822.TEXT":
            out.append(_literal(b"RFC822.TEXT", section_bytes(message(), (), "TEXT", ())))
        if item.section is not None and name == "BODY":
            sec = item.section
            content = section_bytes(message(), sec.parts, sec.text, sec.fields)
            if item.partial is not None:
                start, length = item.partial
                content = content[start : start + length] if length is not None else content[start:]
            out.append(_literal(label.encode("utf-8", "replace"), content))
        elif item.section is not None and name == "BINARY":
            content = binary_section(message(), item.section.parts)
            if item.partial is not None:
                start, length = item.partial
                content = content[start : start + length] if length is not None else content[start:]
            out.append(_literal(label.encode("ascii", "replace"), content, eight=b"\x00" in content))
        elif item.section is not None and name == "BINARY.SIZE":
            out.append(label.encode("ascii", "replace") + b" %d" % len(binary_section(message(), item.section.parts)))
        elif item.section is not None:
            raise ValueError(f"{name} is not supported")
    if with_modseq and not any(i.name == "MODSEQ" for i in items):
        out.append(b"MODSEQ (%d)" % meta.modseq)
    pieces = [b"* %d FETCH (" % seq]
    for n, part in enumerate(out):
        if n:
            pieces.append(b" ")
        if isinstance(part, tuple):
            pieces.extend(part)
        else:
            pieces.append(part)
    pieces.append(b")\r\n")
    return b"".join(pieces)


def _literal(name: bytes, content: bytes, *, eight: bool = False) -> tuple[bytes, bytes]:
    """``NAME {n}`` (``NAME ~{n}``, a literal8, if ``eight``) and the content, kept apart so that a
    large message is copied once into the response."""
    return b"%s %s{%d}\r\n" % (name, b"~" if eight else b"", len(content)), content
