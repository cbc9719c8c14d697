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


class StoreMaildrop:
    """Implements :class:`agents.pop3.session.Maildrop` for one mailbox of an ``agents.store.Store``."""

    def __init__(self, folder: Any, lock: MaildropLock) -> None:
        self.folder = folder
        self.lock = lock
        folder.refresh()
        validity = folder.uidvalidity
        self._messages = [DropMessage(m.uid, m.size, f"{validity}.{m.uid}") for m in folder.messages()]

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

    def _read(self, uid: int) -> bytes:
        from agents.store.errors import MessageGone

        try:
            return bytes(self.folder.read(uid))
        except (MessageGone, FileNotFoundError):
            raise MessageUnavailable(uid) from None

    async def fetch(self, uid: int) -> bytes:
        size = self._size(uid)
        if size <= INLINE_READ_LIMIT:
            return self._read(uid)
        return await asyncio.to_thread(self._read, uid)

    def _size(self, uid: int) -> int:
        # Messages are in UID order, so a binary search finds the entry.
        lo, hi = 0, len(self._messages)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._messages[mid].uid < uid:
                lo = mid + 1
            else:
                hi = mid
        return self._messages[lo].size if lo < len(self._messages) and self._messages[lo].uid == uid else 0

    async def expunge(self, uids: Sequence[int]) -> None:
        await asyncio.to_thread(self.folder.expunge, list(uids))

    async def mark_seen(self, uids: Sequence[int]) -> None:
        await asyncio.to_thread(self.folder.store_flags, list(uids), ["\\Seen"], "add")

    async def release(self) -> None:
        self.lock.release()
