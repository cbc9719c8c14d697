"""The POP3 maildrop over agents.store: the INBOX of one mailbox, locked and snapshotted.

No Django here: the caller passes the store. The snapshot (message numbers,
sizes, UIDLs) is taken once at login from the index alone, so STAT/LIST/UIDL
of 100,000 messages open no file. Sizes are the index sizes, which are the
sizes of the stored files, which the store keeps with CRLF line ends: exactly
what RETR sends before dot-stuffing (RFC 1939 wants the CRLF size).

UIDL is ``f"{uidvalidity}.{uid}"`` of INBOX (docs/internals.md): POP3 and IMAP
name a message alike, and a new UIDVALIDITY (a rebuilt index) makes POP3
clients fetch everything again rather than miss anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from .lock import LockBusy, MaildropLock
from .session import DropMessage, MaildropInUse, MessageUnavailable

INBOX = "INBOX"
INLINE_READ_LIMIT = 256 * 1024  # smaller messages are read on the event loop: a thread hop costs more
READ_AHEAD_LIMIT = 1024 * 1024  # read the next message ahead only if it is smaller than this


class StoreMaildrop:
    """Implements :class:`agents.pop3.session.Maildrop` for one mailbox of an ``agents.store.Store``."""

    def __init__(self, folder: Any, lock: MaildropLock) -> None:
        self.folder = folder
        self.lock = lock
        folder.refresh()
        validity = folder.uidvalidity
        self._messages = [DropMessage(m.uid, m.size, f"{validity}.{m.uid}") for m in folder.messages()]
        self._ahead: tuple[int, bytes | None] | None = None  # (uid, message) read ahead

    @classmethod
    def open(cls, store: Any, address: str) -> StoreMaildrop:
        """Lock and snapshot the INBOX of ``address`` (blocking: call it in a thread).

        Raises :class:`MaildropInUse` when another POP3 session holds it.
        """
        mailbox = store.mailbox(address)
        lock = MaildropLock(mailbox.path)
        try:
            lock.acquire()
        except LockBusy:
            raise MaildropInUse(address) from None
        try:
            return cls(mailbox.folder(INBOX), lock)
        except BaseException:
            lock.release()
            raise

    @property
    def messages(self) -> Sequence[DropMessage]:
        return self._messages

    def _read(self, uid: int) -> bytes | None:
        """The message, or None if it is gone (a prefetch must not leave an unretrieved exception)."""
        from agents.store.errors import MessageGone

        try:
            return bytes(self.folder.read(uid))
        except (MessageGone, FileNotFoundError):
            return None

    async def fetch(self, uid: int) -> bytes:
        """The message (CRLF); served from the read-ahead when the client goes in order."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == uid:
            data = ahead[1]
        else:
            position = self._position(uid)
            size = self._messages[position].size if position is not None else 0
            data = self._read(uid) if size <= INLINE_READ_LIMIT else await asyncio.to_thread(self._read, uid)
        if data is None:
            raise MessageUnavailable(uid)
        return data

    def read_ahead(self, uid: int) -> None:
        """Read the message after ``uid`` now, while the client is busy with this one.

        POP3 clients fetch in order, one command at a time; the server calls this
        after a reply has gone out, so the file read leaves the round trip's
        critical path. Done on the event loop on purpose: handing it to a thread
        costs more (GIL hand-offs) than the read itself.
        """
        position = self._position(uid)
        if position is None or position + 1 >= len(self._messages):
            return
        following = self._messages[position + 1]
        if following.size <= READ_AHEAD_LIMIT:
            self._ahead = (following.uid, self._read(following.uid))

    def _position(self, uid: int) -> int | None:
        # Messages are in UID order, so a binary search finds the entry.
        lo, hi = 0, len(self._messages)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._messages[mid].uid < uid:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < len(self._messages) and self._messages[lo].uid == uid else None

    async def expunge(self, uids: Sequence[int]) -> None:
        await asyncio.to_thread(self.folder.expunge, list(uids))

    async def mark_seen(self, uids: Sequence[int]) -> None:
        await asyncio.to_thread(self.folder.store_flags, list(uids), ["\\Seen"], "add")

    async def release(self) -> None:
        self._ahead = None
        self.lock.release()
