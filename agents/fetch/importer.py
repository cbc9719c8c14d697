"""Import an mbox file or a Maildir tree into a mailbox (``manage.py importmail``); bypasses filters.

An import is a migration, so no filter, forward or auto-reply runs. Speed matters
(a 1 GB mbox), so messages are not stored one fsync at a time: they are written into
the mailbox's Maildir the way any Maildir writer (mutt, Dovecot) does — ``tmp/`` then
``cur/``, flags in the ``:2,`` info, the internal date as the file's mtime — and every
``BATCH`` messages one sync makes them durable, the store's ``refresh()`` indexes them
(the store adopts files written behind its back; UIDs follow the import order), and
the progress record advances. Each file name derives from (source, message key), so a
re-run after a crash finds what is already there and never stores a message twice.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from agents.store import maildir as maildir_names
from agents.store.errors import FolderExists, FolderNotFound

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


class MaildirDrop:
    """Writes imported messages into one folder of a mailbox, durably per batch."""

    def __init__(self, box, folder_name: str, source: str) -> None:  # type: ignore[no-untyped-def]
        try:
            self.folder = box.folder(folder_name)
        except FolderNotFound:
            try:
                box.create_folder(folder_name)
            except FolderExists:
                pass
            self.folder = box.folder(folder_name)
        self.path: Path = self.folder.path
        self.source = source
        self.present = {name.partition(maildir_names.INFO_SEP)[0].split(",S=")[0]
                        for sub in ("new", "cur") for name in os.listdir(self.path / sub)}
        self.pending = 0

    def unique(self, position: int, key: str) -> str:
        digest = hashlib.sha256(f"{self.source}\0{key}".encode("utf-8", "surrogateescape")).hexdigest()[:24]
        return f"{position}.I{digest}.mailapp-import"  # the leading number orders UIDs as in the source

    def add(self, position: int, item: Item) -> bool:
        """Write one message (not yet synced); False if an earlier run already stored it."""
        unique = self.unique(position, item.key)
        if unique in self.present:
            return False
        data = maildir_names.to_crlf(item.raw)
        name = f"{unique},S={len(data)}{maildir_names.INFO_SEP}{maildir_names.letters(set(item.flags))}"
        tmp = self.path / "tmp" / name
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.utime(tmp, (item.date, item.date))
        os.rename(tmp, self.path / "cur" / name)
        self.present.add(unique)
        self.pending += 1
        return True

    def commit(self) -> None:
        """Make the written files durable, then let the store index them."""
        if self.pending:
            os.sync()  # one flush for the whole batch (per-file fsync would cost ~10 ms a message)
            self.folder.refresh()
            self.pending = 0


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
