"""Group commit: concurrent submissions share the directory fsyncs and the database commit.

Each caller writes and fsyncs its own spool file in its own thread (the file
system merges concurrent fsyncs into one journal commit), then joins a group.
The first caller to find no commit running becomes the leader: it takes every
waiting submission, fsyncs their directories once each, writes all their rows
in one transaction, and wakes them. Callers that arrived meanwhile form the next
group. Each caller still returns only once its own message is durable: the
contract of :func:`agents.queue.submit` holds, with fewer fsyncs per message.

Hand-off to Celery happens after the commit on a background thread; a message
whose task was never sent is found by the sweeper, as with any broker loss. The
thread sends one task per ``MAILAPP_DELIVERY_BATCH`` messages waiting to be handed
off (gathered for up to ``HANDOFF_LINGER``), not one per message: a delivery run
drains every due message, batch by batch, so the task only has to start one (on the
embedded broker each task is a file, and a worker polls for it).
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue as queue_module
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import close_old_connections

from . import spool
from .ids import new_queue_id

if TYPE_CHECKING:
    from . import Envelope

log = logging.getLogger(__name__)

HANDOFF_LINGER = 0.1  # seconds the hand-off waits for more messages before it sends a task


@dataclass(eq=False)
class _Pending:
    queue_id: str
    raw: bytes
    envelope: Envelope
    path: Path | None
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    committed: bool = False
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, enqueue: bool = True) -> None:
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._busy = False
        self._enqueue = enqueue
        self._handoff: queue_module.SimpleQueue[str] | None = None
        self.groups = 0  # how many commits (for the benchmark's report)
        self.messages = 0

    def submit(
        self, raw: bytes, envelope, queue_id: str | None = None, *, fresh_id: bool = False, reserved: bool = False
    ) -> str:
        """Queue ``raw`` durably (see :func:`agents.queue.submit`) and return its queue id.

        ``fresh_id=True`` says the caller just made ``queue_id`` with ``new_queue_id()``,
        which spares the look-up that makes a given id idempotent. Must not be called
        inside a database transaction: the leader commits other threads' rows on its
        own connection. ``reserved=True``: ``queue_id`` came from a
        :class:`agents.queue.reserve.Reservoir`, whose directory entry is already durable.
        """
        from agents.models import QueueMessage

        if not envelope.recipients:
            raise ValueError("a message needs at least one recipient")
        if queue_id is None:
            queue_id = new_queue_id()
        elif not fresh_id and QueueMessage.objects.filter(queue_id=queue_id).exists():
            return queue_id
        # The file is written here and fsynced on another thread while the rows commit: the
        # two fsyncs (the file's, the database's) overlap instead of following each other,
        # and the journal often folds them into one commit. The caller returns only when
        # both are durable. A crash of the process loses nothing written (the page cache
        # keeps it); after a power cut a row may name a file cut short, which was never
        # acknowledged: delivery compares the file with the row's size and holds it.
        # A small message on SQLite (and every message in cluster mode): no file; the bytes
        # are committed with the rows, and the WAL's one fsync covers both (agents.queue.spool).
        path = None
        if not spool.inline(len(raw)):
            path = spool.write(queue_id, raw, sync=False, fsync=False)
        elif reserved:  # a reservation the message turned out not to need
            spool.discard_reserved(queue_id)
        flushed = None if path is None else _flusher().submit(spool.flush, path, not reserved)
        item = _Pending(queue_id, raw, envelope, path)
        try:
            with self._lock:
                self._waiting.append(item)
                lead = not self._busy
                self._busy = True
            if lead:
                self._lead()
            else:
                item.wake.wait()  # set when our group is committed, or when it is our turn to lead
                if not item.done:
                    self._lead()
        finally:
            if flushed is not None:
                self._await_flush(item, flushed)
        return self._outcome(item)

    @staticmethod
    def _await_flush(item: _Pending, flushed: concurrent.futures.Future) -> None:
        """Wait for the spool file's fsync; if it failed, the message must not be accepted, and
        rows already committed are put on hold (the client, refused, will send it again)."""
        try:
            flushed.result()
        except BaseException as exc:
            log.error("%s: spool file not durable (%s)", item.queue_id, exc)
            if item.committed:
                _hold_unflushed(item.queue_id)
            if item.error is None:
                item.error = exc

    def _lead(self) -> None:
        """Commit everything waiting, hand the lead to the next waiter (if any), wake the group."""
        with self._lock:
            group, self._waiting = self._waiting, []
        try:
            self._commit(group)
        except BaseException as exc:  # e.g. the database went away: nobody in the group may say "accepted"
            for member in group:
                if not member.committed and member.error is None:
                    member.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            with self._lock:
                for member in group:
                    member.done = True
                successor = self._waiting[0] if self._waiting else None
                self._busy = successor is not None
            for member in group:
                member.wake.set()
            if successor is not None:
                successor.wake.set()  # not done: it wakes up as the next leader

    @staticmethod
    def _outcome(item: _Pending) -> str:
        if item.error is not None:
            raise item.error
        if not item.committed:  # cannot happen; if it ever does, refuse rather than lie
            raise RuntimeError(f"queue rows of {item.queue_id} were not committed")
        return item.queue_id

    def _commit(self, group: list[_Pending]) -> None:
        from . import record, record_many

        close_old_connections()
        try:
            record_many([(m.raw, m.envelope, m.queue_id) for m in group])
            for member in group:
                member.committed = True
        except Exception:
            log.warning("group commit of %d messages failed; committing them one by one", len(group), exc_info=True)
            for member in group:
                try:
                    record(member.raw, member.envelope, member.queue_id)
                    member.committed = True
                except Exception as exc:
                    member.error = exc
        self.groups += 1
        self.messages += len(group)
        if self._enqueue:
            for member in group:
                if member.error is None and not getattr(member.envelope, "held", False):
                    self._send_later(member.queue_id)

    def _send_later(self, queue_id: str) -> None:
        if self._handoff is None:
            self._handoff = queue_module.SimpleQueue()
            threading.Thread(target=self._sender, name="queue-handoff", daemon=True).start()
        self._handoff.put(queue_id)

    def _sender(self) -> None:
        from django.conf import settings

        from . import enqueue_delivery

        assert self._handoff is not None
        while True:
            waiting = [self._handoff.get()]
            # Linger a moment for the messages right behind: at one session a group is one
            # message, and a task per message cost the agent and the worker more CPU than the
            # message itself (the file broker's polling, Celery's send and receive). Asleep,
            # not waiting on the queue: a waiting thread was woken by every message put in
            # (a thread switch and the interpreter lock passed back and forth, per message).
            time.sleep(HANDOFF_LINGER)
            while len(waiting) < 10_000:
                try:
                    waiting.append(self._handoff.get_nowait())
                except queue_module.Empty:
                    break
            for queue_id in handoff_heads(waiting, settings.MAILAPP_DELIVERY_BATCH):
                enqueue_delivery(queue_id, node="")  # what a client sent is never pinned to a node


_flush_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _flusher() -> concurrent.futures.ThreadPoolExecutor:
    global _flush_pool
    if _flush_pool is None:
        with _default_lock:
            if _flush_pool is None:
                _flush_pool = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="spool-fsync")
    return _flush_pool


def _hold_unflushed(queue_id: str) -> None:
    from agents.models import QueueMessage

    try:
        QueueMessage.objects.filter(queue_id=queue_id).update(
            state=QueueMessage.HELD, last_error="spool file not durable when received; the client was refused")
    except Exception:
        log.exception("%s: could not hold a message whose spool file is not durable", queue_id)


def handoff_heads(waiting: list[str], batch: int) -> list[str]:
    """The queue ids to send tasks for: one per ``batch`` waiting (a run starting at one drains the rest)."""
    return waiting[:: max(1, batch)]


_default: GroupCommit | None = None
_default_lock = threading.Lock()


def default_committer() -> GroupCommit | None:
    return _default


def submit_grouped(
    raw: bytes, envelope, queue_id: str | None = None, *, fresh_id: bool = False, reserved: bool = False
) -> str:
    """:func:`agents.queue.submit` for many concurrent callers (threads) of one process."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = GroupCommit()
    return _default.submit(raw, envelope, queue_id, fresh_id=fresh_id, reserved=reserved)
