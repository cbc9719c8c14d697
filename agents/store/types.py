"""Public value types of the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple


class FolderInfo(NamedTuple):
    """One folder as LIST shows it: ``special_use`` is ``\\Sent``, ``\\Drafts``, ``\\Junk``, ``\\Trash`` or None."""

    name: str
    special_use: str | None
    subscribed: bool


class MessageMeta(NamedTuple):
    """What SELECT and ``FETCH 1:* (FLAGS)`` need, read from the index only.

    ``flags`` holds system flags (``\\Seen``...) and keywords; ``internaldate`` is
    timezone-aware UTC; ``key`` is the Maildir unique name (stable for the file).
    """

    uid: int
    flags: frozenset[str]
    size: int
    internaldate: datetime
    modseq: int
    key: str


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """A message line for webmail lists and header search: meta plus cached, decoded headers."""

    meta: MessageMeta
    from_: str
    to: str
    cc: str
    subject: str
    date: datetime | None  # the Date header in UTC; None if missing or unparsable
    message_id: str
    in_reply_to: str
    has_attachments: bool

    @property
    def uid(self) -> int:
        return self.meta.uid


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Listing:
    """Every message of a folder in UID order at one MODSEQ (``Folder.listing``), shared within a process.

    ``metas`` and ``uids`` run in parallel; ``uids`` lets a session find a message by
    binary search in C. Nobody changes a listing once made: copy it to change it. A
    listing a session still holds is found again by weak reference (``folder._listing``).
    """

    modseq: int
    metas: list[MessageMeta]
    uids: list[int]


class Changes(NamedTuple):
    """Result of ``Folder.changes_since``: messages changed or added, and UIDs expunged, after a MODSEQ."""

    changed: list[MessageMeta]
    expunged: list[int]


class FlagResult(list):  # list[MessageMeta] so callers may simply iterate
    """Messages of a STORE in their new state; ``modified`` lists UIDs refused by UNCHANGEDSINCE."""

    modified: list[int]

    def __init__(self, metas: list[MessageMeta] = (), modified: list[int] = ()) -> None:  # type: ignore[assignment]
        super().__init__(metas)
        self.modified = list(modified)


Json = Any


class SortFields(NamedTuple):
    """Result rows of ``Folder.sort_fields``: what IMAP SORT and THREAD compare, from the index.

    ``date`` is the Date header as a UNIX time (None if missing or unparsable); ``from_``, ``to``
    and ``cc`` are the first ENVELOPE address ``[name, adl, mailbox, host]`` or None.
    """

    uid: int
    subject: str
    date: int | None
    message_id: str
    in_reply_to: str
    from_: list | None
    to: list | None
    cc: list | None
