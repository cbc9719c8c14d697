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
import bisect
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from agents.store.errors import MessageGone

from .lock import LockBusy, MaildropLock
from .session import DropMessage, MaildropInUse, MessageUnavailable

INBOX = "INBOX"
INLINE_READ_LIMIT = 256 * 1024  # smaller messages in the page cache are read on the event loop: a thread hop costs more
READ_AHEAD_COUNT = 16  # messages read ahead in one batch by a reader thread
READ_AHEAD_BYTES = 4 * 1024 * 1024  # and at most this many bytes per batch

# Reader threads shared by all sessions. A batch per thread hand-off, not a message: waking a
# thread per message cost more (GIL and wake-up hand-offs) than the read it saved.
_readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pop3-read-ahead")


class StoreMaildrop:
    """Implements :class:`agents.pop3.session.Maildrop` for one mailbox of an ``agents.store.Store``."""

    def __init__(self, folder: Any, lock: MaildropLock) -> None:
        self.folder = folder
        self.lock = lock
        folder.refresh()
        validity = folder.uidvalidity
        metas = folder.listing().metas
        self._messages = [DropMessage(m.uid, m.size, f"{validity}.{m.uid}") for m in metas]
        self._seen_at_login = {m.uid for m in metas if "\\Seen" in m.flags}  # mark_seen() skips these
        self._uids = [m.uid for m in self._messages]
        self._files: dict[int, str] = folder.file_names()  # RETR opens the file without asking the index
        self._reader = folder.file_reader()
        self._cold = False  # the last read missed the page cache: read ahead in a thread
        self._ahead: dict[int, bytes | None] = {}  # uid -> message read ahead (None: gone)
        self._job: Future[None] | None = None
        self._ahead_end = 0  # position after the last message handed to a reader thread
        self._closed = threading.Event()

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
        try:
            position = self._position(uid)
            size = self._messages[position].size if position is not None else None
            return bytes(self.folder.read_file(uid, self._files.get(uid), size))
        except (MessageGone, FileNotFoundError):
            return None

    async def fetch(self, uid: int) -> bytes:
        """The message (CRLF), read in a thread: what :meth:`fetch_now` could not have at once."""
        if uid in self._ahead:
            data = self._ahead.pop(uid)
        else:
            data = await asyncio.to_thread(self._read, uid)
        if data is None:
            raise MessageUnavailable(uid)
        return data

    def fetch_now(self, message: DropMessage) -> bytes | None:
        """The message if it is read ahead or in the page cache, else None (then :meth:`fetch` it).

        The read happens on the event loop's thread, which costs less CPU than a hand-off
        to a reader thread, but only if it cannot wait for the disk (``RWF_NOWAIT``): a
        miss marks the maildrop cold, and :meth:`read_ahead` then reads the next
        messages in a thread while the client works.
        """
        uid = message.uid
        if self._ahead:
            if uid in self._ahead:
                data = self._ahead.pop(uid)
                if data is None:
                    raise MessageUnavailable(uid)
                return data
        name = self._files.get(uid)
        if name is None or message.size > INLINE_READ_LIMIT:
            return None
        try:
            cached = self._reader.read_cached(name, message.size)
        except BlockingIOError:
            self._cold = True
            return None
        self._cold = False
        return cached  # None (renamed by a flag change, or gone): fetch() asks the index

    def read_ahead(self, uid: int) -> None:
        """Have a reader thread read the next messages after ``uid`` while the client works.

        POP3 clients fetch in order, one command at a time. The session calls this
        after a reply went out; a batch of following messages is read in a thread
        (file and SQLite I/O release the GIL) into ``_ahead``, where :meth:`fetch`
        finds them without a wait or a hand-off.
        """
        if not self._cold or (self._job is not None and not self._job.done()):
            return
        position = self._position(uid)
        if position is None or position + READ_AHEAD_COUNT // 2 < self._ahead_end:
            return  # enough is read ahead already: O(1) on the common path
        start = max(position + 1, self._ahead_end)
        if start - position > 2 * READ_AHEAD_COUNT or len(self._ahead) > 2 * READ_AHEAD_COUNT:
            self._ahead.clear()  # the client jumped around: start afresh from here
            start = position + 1
        batch: list[int] = []
        total = 0
        for message in self._messages[start : start + READ_AHEAD_COUNT]:
            total += message.size
            if batch and total > READ_AHEAD_BYTES:
                break
            batch.append(message.uid)
        if batch:
            self._ahead_end = start + len(batch)
            self._job = _readers.submit(self._read_batch, batch)

    def _read_batch(self, uids: list[int]) -> None:
        for uid in uids:
            if self._closed.is_set():
                return
            self._ahead[uid] = self._read(uid)

    def _position(self, uid: int) -> int | None:
        # Messages are in UID order: a binary search in C over their UIDs (twice per RETR).
        i = bisect.bisect_left(self._uids, uid)
        return i if i < len(self._uids) and self._uids[i] == uid else None

    async def expunge(self, uids: Sequence[int]) -> None:
        await asyncio.to_thread(self.folder.expunge, list(uids))

    async def mark_seen(self, uids: Sequence[int]) -> None:
        """Add \\Seen to those of ``uids`` that did not have it at login.

        A client downloading its maildrop again would otherwise have the store read,
        compare and rewrite nothing for every message (a write transaction over 20,000 rows).
        """
        unseen = [uid for uid in uids if uid not in self._seen_at_login]
        if unseen:
            await asyncio.to_thread(self.folder.store_flags, unseen, ["\\Seen"], "add")

    async def release(self) -> None:
        self._closed.set()
        self._ahead.clear()
        self._reader.close()
        self.lock.release()
