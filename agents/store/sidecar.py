"""Small SQLite files the store keeps for other parts of the engine (a learned junk filter, …).

The store owns the mail directories, so nothing else writes there: a part that
wants per-mailbox state asks ``MailboxStore.sidecar(name, schema)`` and gets a file
``mailapp-<name>.sqlite`` beside the mailbox's index. It lives in the mailbox's
directory, so it moves, is archived and is backed up with the mailbox. A store-wide
file (``Store.sidecar``) is ``.mailapp-<name>.sqlite`` at the mail root: no domain
directory can start with a dot, so it never collides with one.

Writes are durable like the index's: WAL with ``synchronous=FULL``, the lock taken
up front (``BEGIN IMMEDIATE``), and the directory fsynced when the file is made.
Reading a sidecar that does not exist makes nothing (``read`` yields None).
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from mailcore.durable import fsync_dir

from .errors import StoreError

BUSY_TIMEOUT = 30.0
MAX_OPEN = 32  # read connections kept per thread: delivery reads the same few files again and again
_local = threading.local()
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def sidecar_name(name: str, hidden: bool = False) -> str:
    """The file name for sidecar ``name``; raises StoreError for a name that is not a short lowercase word."""
    if not _NAME.match(name):
        raise StoreError(f"{name!r} cannot name a sidecar file")
    return f"{'.' if hidden else ''}mailapp-{name}.sqlite"


class Sidecar:
    """One SQLite file with a schema its user gives (``CREATE TABLE IF NOT EXISTS`` statements)."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self.schema = schema

    def exists(self) -> bool:
        return self.path.exists()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection | None]:
        """A connection for reading (kept open for the next read in this thread), or None when
        the file was never written. Do not write through it."""
        yield self._reader()

    def _reader(self) -> sqlite3.Connection | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        cache: OrderedDict[str, tuple[tuple[int, int, int], sqlite3.Connection]] | None = getattr(_local, "open", None)
        if cache is None:
            cache = _local.open = OrderedDict()
        name = str(self.path)
        ident = (stat.st_dev, stat.st_ino, os.getpid())  # a replaced file, or a forked child: connect anew
        held = cache.get(name)
        if held is not None and held[0] == ident:
            cache.move_to_end(name)
            return held[1]
        if held is not None and held[0][2] == os.getpid():
            held[1].close()
        conn = self._connect()
        cache[name] = (ident, conn)
        while len(cache) > MAX_OPEN:
            (_, old_conn) = cache.popitem(last=False)[1]
            old_conn.close()
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN IMMEDIATE``: committed durably on a normal exit, rolled back on an error.

        Makes the file (schema applied, directory fsynced) on first use; raises
        StoreError if the directory is missing.
        """
        if not self.path.parent.is_dir():
            raise StoreError(f"no directory for {self.path.name}")
        made = not self.path.exists()
        with closing(self._connect()) as conn:
            if made:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(self.schema)  # IF NOT EXISTS: also adds tables a newer schema has
            if made:
                fsync_dir(self.path.parent)
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
