"""The per-mailbox SQLite index: schema, connections, and transactions.

One file per mailbox (``mailapp-index.sqlite``) in WAL mode holds all its folders.
Each thread of each process gets its own connection (SQLite connections must not
cross threads, and a forked child must not reuse its parent's). Writers take the
lock up front (``BEGIN IMMEDIATE``) and keep it only for short work; counters per
folder are kept by triggers so SELECT-like reads are one-row queries.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import fulltext

INDEX_NAME = "mailapp-index.sqlite"
BUSY_TIMEOUT = 30.0
MAX_OPEN = 128  # connections kept per thread (each holds 3 file descriptors)
SCHEMA_VERSION = 7  # 2: messages_new; 3: messages_date (sorting by date without a scan); 4: mime_wire; 5: fulltext;
# 6: fulltext by word (the text kept once, a word index and a term list instead of trigrams);
# 7: posting bitmaps beside the word index (new empty tables: the upgrade is instant, searches fill them)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    dirname TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL DEFAULT 1,
    highestmodseq INTEGER NOT NULL DEFAULT 1,
    first_recent INTEGER NOT NULL DEFAULT 1,
    exists_count INTEGER NOT NULL DEFAULT 0,
    unseen_count INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    new_mtime INTEGER NOT NULL DEFAULT -1,
    cur_mtime INTEGER NOT NULL DEFAULT -1
);
CREATE TABLE IF NOT EXISTS subscriptions (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS messages (
    folder_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    uniq TEXT NOT NULL,
    subdir TEXT NOT NULL,
    fname TEXT NOT NULL,
    flags TEXT NOT NULL DEFAULT '',
    seen INTEGER NOT NULL DEFAULT 0,
    modseq INTEGER NOT NULL,
    size INTEGER NOT NULL,
    internaldate INTEGER NOT NULL,
    hdr_from TEXT NOT NULL DEFAULT '',
    hdr_to TEXT NOT NULL DEFAULT '',
    hdr_cc TEXT NOT NULL DEFAULT '',
    hdr_subject TEXT NOT NULL DEFAULT '',
    hdr_date INTEGER,
    hdr_message_id TEXT NOT NULL DEFAULT '',
    hdr_in_reply_to TEXT NOT NULL DEFAULT '',
    has_attachments INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_uniq ON messages (folder_id, uniq);
CREATE INDEX IF NOT EXISTS messages_modseq ON messages (folder_id, modseq);
CREATE INDEX IF NOT EXISTS messages_unseen ON messages (folder_id, seen, uid);
CREATE INDEX IF NOT EXISTS messages_new ON messages (folder_id, uid) WHERE subdir = 'new';
CREATE INDEX IF NOT EXISTS messages_date ON messages (folder_id, coalesce(hdr_date, internaldate), uid);
CREATE TABLE IF NOT EXISTS mime (
    folder_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    bodystructure TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS mime_uid ON mime (folder_id, uid);
CREATE TABLE IF NOT EXISTS mime_wire (
    folder_id INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    version INTEGER NOT NULL,
    envelope BLOB NOT NULL,
    bodystructure BLOB NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS expunged (folder_id INTEGER NOT NULL, uid INTEGER NOT NULL, modseq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged (folder_id, modseq);
CREATE TABLE IF NOT EXISTS keywords (folder_id INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (folder_id, name));
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,
    folder TEXT NOT NULL,
    uniq TEXT NOT NULL,
    uid INTEGER,
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_uniq ON deliveries (uniq);
CREATE INDEX IF NOT EXISTS deliveries_created ON deliveries (created);

CREATE TRIGGER IF NOT EXISTS messages_ins AFTER INSERT ON messages BEGIN
    UPDATE folders SET exists_count = exists_count + 1, unseen_count = unseen_count + 1 - NEW.seen,
        bytes = bytes + NEW.size WHERE id = NEW.folder_id;
END;
CREATE TRIGGER IF NOT EXISTS messages_del AFTER DELETE ON messages BEGIN
    UPDATE folders SET exists_count = exists_count - 1, unseen_count = unseen_count - 1 + OLD.seen,
        bytes = bytes - OLD.size WHERE id = OLD.folder_id;
    DELETE FROM mime WHERE folder_id = OLD.folder_id AND uid = OLD.uid;
END;
CREATE TRIGGER IF NOT EXISTS messages_del_wire AFTER DELETE ON messages BEGIN
    DELETE FROM mime_wire WHERE folder_id = OLD.folder_id AND uid = OLD.uid;
END;
CREATE TRIGGER IF NOT EXISTS messages_seen AFTER UPDATE OF seen ON messages WHEN OLD.seen != NEW.seen BEGIN
    UPDATE folders SET unseen_count = unseen_count + OLD.seen - NEW.seen WHERE id = NEW.folder_id;
END;
""" + fulltext.SCHEMA


class Index:
    """One connection to one mailbox index, for the calling thread only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        _switch_to_wal(self.conn)
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._synchronous = "NORMAL"
        self.pruned = -1  # the hour (time.time() // 3600) deliveries' old keys were last dropped through this one
        self._depth = 0
        self.commits = 0  # write transactions committed through this connection (see ``version``)
        self.inode = _inode(path)
        if self._version() < SCHEMA_VERSION:
            self._upgrade()
        self._instance = self._own_name()  # now, outside any transaction (a file older than the name gets one)

    def _upgrade(self) -> None:
        with self.write():  # every statement is IF NOT EXISTS: creating and upgrading are the same
            if self._version() >= SCHEMA_VERSION:  # another connection made it while this one waited
                return
            fulltext.upgrade(self.conn)  # except for what schema 6 replaced
            for statement in _statements(SCHEMA):
                self.conn.execute(statement)
            fulltext.finish_upgrade(self.conn)
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def _own_name(self) -> str:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'instance'").fetchone()
        if row is None:
            with self.write() as conn:  # two openers at once: the first one's name stays
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('instance', ?)", (uuid.uuid4().hex,))
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'instance'").fetchone()
        return str(row[0])

    def _version(self) -> int:
        if self.conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0] == 0:
            return 0
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        return int(row[0]) if row else 0

    @contextmanager
    def write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (``BEGIN IMMEDIATE``); nested calls join the outer one.

        ``durable`` makes this commit reach the disk before returning (deliveries);
        otherwise WAL with synchronous=NORMAL may lose the last commits on power
        loss, never corrupt the file.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        # May only change outside a transaction. A durable write leaves FULL in place for the next
        # one (a delivery worker's writes are nearly all durable: two statements fewer per commit);
        # a write that need not be durable sets NORMAL again first.
        wanted = "FULL" if durable else "NORMAL"
        if self._synchronous != wanted:
            self.conn.execute(f"PRAGMA synchronous={wanted}")
            self._synchronous = wanted
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self.conn.execute("COMMIT")
            self.commits += 1
        finally:
            self._depth = 0

    @property
    def instance(self) -> str:
        """A random name this index file keeps for life (made at its first open): a file made again at the
        same path, even on the same inode, has another, so the process's caches never mix the two."""
        return self._instance

    def version(self) -> tuple[int, int]:
        """Changes to the index as this connection can tell them without reading a table: SQLite's
        ``data_version`` (moves when another connection, of this process or another, commits) and
        this connection's own commits. Equal values mean nothing was committed in between."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0], self.commits

    @contextmanager
    def patience(self, seconds: float) -> Iterator[None]:
        """Inside the block, wait at most ``seconds`` for a lock (for writes that may be skipped, like caches)."""
        self.conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several queries see one consistent state."""
        if self._depth:
            yield self.conn
            return
        self.conn.execute("BEGIN")
        self._depth = 1
        try:
            yield self.conn
        finally:
            self._depth = 0
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (a no-op once it is), waiting for other openers as a busy timeout would.

    Switching a new file to WAL takes its reserved, then exclusive lock from inside a
    read. SQLite calls no busy handler there (a connection holding a read lock must not
    wait for one that waits for it), so when several processes or threads open a new
    mailbox at the same moment, every one but the first switcher gets "database is
    locked" at once, whatever the busy timeout. Retrying after a short sleep is that
    busy wait done by hand: by then the first switcher is done and the pragma only reads.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _statements(script: str) -> list[str]:
    """Split the schema into statements (triggers hold ';' inside BEGIN...END)."""
    out: list[str] = []
    current: list[str] = []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            out.append(text)
            current = []
    return out


_local = threading.local()


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def open_index(path: Path, *, verify: bool = False, inode: int | None = None) -> Index:
    """The calling thread's connection to the index at ``path`` (made on first use).

    ``verify`` (used when a mailbox is opened) reconnects if the file was replaced,
    e.g. the mailbox was retired and made again by another process, or restored.
    ``inode`` (the file the mailbox object was opened on): when the kept
    connection is to another file, one stat tells whether that file was replaced.
    """
    cache: OrderedDict[tuple[int, str], Index] | None = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = OrderedDict()
    key = (os.getpid(), str(path))
    index = cache.get(key)
    if index is not None and (verify or inode is not None and inode != index.inode) and _inode(path) != index.inode:
        index.close()
        del cache[key]
        index = None
    if index is None:
        for stale in [k for k in cache if k[0] != key[0]]:  # inherited over fork: never touch
            del cache[stale]
        # A worker delivering to many mailboxes must not run out of files.
        while len(cache) >= getattr(_local, "max_open", MAX_OPEN):
            _, oldest = cache.popitem(last=False)
            if oldest._depth:  # in a transaction (cannot happen in this package): keep it
                cache[(os.getpid(), str(oldest.path))] = oldest
                break
            oldest.close()
        index = cache[key] = _open_or_rebuild(path)
    else:
        cache.move_to_end(key)
    return index


def limit_open(connections: int) -> None:
    """Keep at most ``connections`` indexes open in the calling thread (a pool's threads, which together
    must stay within the process's file descriptors)."""
    _local.max_open = max(1, connections)


def _open_or_rebuild(path: Path) -> Index:
    """Open the index; a file SQLite cannot read is set aside and a new index is made.

    The Maildir is the truth, so the folders are rebuilt from it by the next
    rescan, with new UIDVALIDITY values (clients resynchronise, nothing is lost).
    """
    try:
        return Index(path)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(path) + suffix)
            if source.exists():
                os.replace(source, Path(str(aside) + suffix))
        return Index(path)


def forget(path: Path) -> None:
    """Close this thread's connection to ``path`` (the mailbox is being retired)."""
    cache = getattr(_local, "cache", None)
    index = cache.pop((os.getpid(), str(path)), None) if cache is not None else None
    if index is not None:
        index.close()
