"""Import an mbox file or a Maildir tree into a mailbox (``manage.py importmail``); bypasses filters.

An import is a migration, so no filter, forward or auto-reply runs. Speed matters
(a 1 GB mbox), so messages are not stored one fsync at a time: the store's batch
writer (``agents.store.bulk``) writes them and, every ``BATCH`` messages, makes them
durable with one sync and indexes them (UIDs follow the import order); then the
progress record advances. Each file name derives from (source, message key), so a
re-run after a crash finds what is already there and never stores a message twice.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from agents.store.bulk import BulkWriter as MaildirDrop

from .sources import Item

BATCH = 1000


class Progress:
    """A live bar on a TTY (``\\r`` updates), else a line every ``every`` messages or 5 seconds."""

    def __init__(self, stream: TextIO, label: str, total: int, *, tty: bool | None = None, every: int = 1000) -> None:
        self.stream, self.label, self.total, self.every = stream, label, max(total, 0), every
        self.tty = stream.isatty() if tty is None else tty
        self.start = self.last = time.monotonic()
        self.count = 0

    def update(self, count: int) -> None:
        self.count = count
        now = time.monotonic()
        if self.tty and now - self.last >= 0.1:
            self.last = now
            self.stream.write("\r" + self.line(now))
            self.stream.flush()
        elif not self.tty and (count % self.every == 0 or now - self.last >= 5):
            self.last = now
            self.stream.write(self.line(now) + "\n")

    def line(self, now: float) -> str:
        rate = self.count / max(now - self.start, 1e-6)
        if self.total:
            filled = int(30 * min(self.count, self.total) / self.total)
            return (f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total} "
                    f"{rate:,.0f} msg/s")
        return f"{self.label} {self.count} {rate:,.0f} msg/s"

    def finish(self) -> None:
        self.stream.write(("\r" if self.tty else "") + self.line(time.monotonic()) + " done\n")
        self.stream.flush()


@dataclass
class Outcome:
    stored: int = 0
    present: int = 0  # already imported by an earlier run


def run(items: Iterable[Item], drop: MaildirDrop, progress: Progress, *, start: int = 0,
        checkpoint=None) -> Outcome:  # type: ignore[no-untyped-def]
    """Store ``items`` (positions from ``start``) through ``drop``; ``checkpoint(done)`` after each durable batch."""
    outcome = Outcome()
    done = start
    for item in items:
        done = item.position + 1
        if drop.add(item.position, item):
            outcome.stored += 1
        else:
            outcome.present += 1
        progress.update(done)
        if drop.pending >= BATCH:
            drop.commit()
            if checkpoint is not None:
                checkpoint(done)
    drop.commit()
    if checkpoint is not None:
        checkpoint(done)
    progress.finish()
    return outcome


def stderr() -> TextIO:
    return sys.stderr
