"""Consistent copies of a mailbox for backups, and placing a restored mailbox into the live tree.

A snapshot copies the mailbox's index first (SQLite's online backup API: one
consistent state while delivery and IMAP keep writing), then the message files that
index names. Message contents never change once delivered (a flag change only
renames the file), so a file found under its unique name is the file the index
meant. A message delivered after the index copy is not in it, so it is not in the
backup; a message expunged before its file was read is dropped from the copied
index too. Either way the backup holds a mailbox that existed, never half of one.

Restoring builds the mailbox in a staging directory on the same disk, then swaps
it in with renames (the live one is retired, like a removed mailbox). The store
stays the only code writing in the mail directories.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from .index import INDEX_NAME, forget
from .mailbox import UIDVALIDITY_FILE, mailbox_path
from .maildir import INFO_SEP, fsync_dir
from .retire import retire

MAILDIR_SUBDIRS = ("new", "cur", "tmp")
STAGING = ".mailapp-restore"  # under the mail root: same disk, so the final move is a rename


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite file (WAL included) through the online backup API."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _is_sqlite_aux(name: str) -> bool:
    return name.endswith(("-wal", "-shm", "-journal")) or ".corrupt-" in name


def snapshot_mailbox(path: Path, scratch: Path) -> Iterator[tuple[str, Path, str | None]]:
    """Yield ``(relative path, file to read, message unique name or None)`` for one consistent copy.

    ``scratch`` receives the index copy (and copies of other SQLite files); the
    caller must read each yielded file before the next one is asked for.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    index_copy = scratch / INDEX_NAME
    copy_sqlite(path / INDEX_NAME, index_copy)
    conn = sqlite3.connect(index_copy, isolation_level=None)
    try:
        folders = conn.execute("SELECT id, dirname FROM folders").fetchall()
        for folder_id, dirname in folders:
            base = path / dirname if dirname not in ("", ".") else path
            rel_base = (dirname + "/") if dirname not in ("", ".") else ""
            current = _by_unique(base)
            gone: list[int] = []
            rows = conn.execute("SELECT uid, uniq, subdir, fname FROM messages WHERE folder_id = ?",
                                (folder_id,)).fetchall()
            for uid, uniq, subdir, fname in rows:
                found = current.get(uniq)
                if found is not None and not found.exists():  # renamed since the listing (a flag change)
                    current = _by_unique(base)
                    found = current.get(uniq)
                if found is None:  # expunged after the index was copied: not in this backup
                    gone.append(uid)
                    continue
                yield f"{rel_base}{subdir}/{fname}", found, uniq
            if gone:
                conn.executemany("DELETE FROM messages WHERE folder_id = ? AND uid = ?",
                                 [(folder_id, uid) for uid in gone])
    finally:
        conn.close()
    for rel, source in _other_files(path):
        if source.suffix == ".sqlite":
            copy = scratch / ("other-" + uuid.uuid4().hex)
            copy_sqlite(source, copy)
            yield rel, copy, None
        else:
            yield rel, source, None
    yield INDEX_NAME, index_copy, None  # last: the rows of vanished messages are gone from it now


def _by_unique(folder_dir: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for sub in ("new", "cur"):
        try:
            names = os.listdir(folder_dir / sub)
        except FileNotFoundError:
            continue
        for name in names:
            found[name.partition(INFO_SEP)[0]] = folder_dir / sub / name
    return found


def _other_files(path: Path) -> Iterator[tuple[str, Path]]:
    """Files of the mailbox that are not messages and not the index (markers, sidecars, keywords)."""
    for dirpath, dirnames, filenames in os.walk(path):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d not in MAILDIR_SUBDIRS]
        for name in filenames:
            if here == path and name == INDEX_NAME or _is_sqlite_aux(name):
                continue
            source = here / name
            if source.is_file():
                yield str(source.relative_to(path)), source


class StagedMailbox:
    """A mailbox being rebuilt from a backup, placed into the live tree by ``commit()``."""

    def __init__(self, root: Path, address: str) -> None:
        self.root = Path(root)
        self.address = address
        self.target = mailbox_path(self.root, address)
        self.dir = self.root / STAGING / uuid.uuid4().hex
        self.dir.mkdir(parents=True)

    def write(self, rel: str, data: bytes, mtime: float | None = None) -> None:
        target = (self.dir / rel).resolve()
        if self.dir.resolve() not in target.parents:
            raise ValueError(f"{rel!r} is outside the mailbox")
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
        if mtime is not None:
            os.utime(target, (mtime, mtime))

    def _complete_folders(self) -> None:
        conn = sqlite3.connect(self.dir / INDEX_NAME, isolation_level=None)
        try:
            for (dirname,) in conn.execute("SELECT dirname FROM folders"):
                base = self.dir / dirname if dirname not in ("", ".") else self.dir
                for sub in MAILDIR_SUBDIRS:
                    (base / sub).mkdir(parents=True, exist_ok=True)
                if base != self.dir:
                    (base / "maildirfolder").touch()
        finally:
            conn.close()

    def _new_uidvalidity(self, live: Path) -> None:
        """Give every restored folder a UIDVALIDITY above any the live mailbox used, so clients resync."""
        floor = int(time.time())
        for source in (live / UIDVALIDITY_FILE, self.dir / UIDVALIDITY_FILE):
            try:
                floor = max(floor, int(source.read_text().strip() or 0))
            except (FileNotFoundError, ValueError):
                pass
        for index in (live / INDEX_NAME, self.dir / INDEX_NAME):
            if not index.exists():
                continue
            conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=30)
            try:
                row = conn.execute("SELECT max(uidvalidity) FROM folders").fetchone()
                meta = conn.execute("SELECT value FROM meta WHERE key = 'last_uidvalidity'").fetchone()
            except sqlite3.DatabaseError:
                row, meta = None, None
            finally:
                conn.close()
            floor = max(floor, int(row[0] or 0) if row else 0, int(meta[0]) if meta else 0)
        conn = sqlite3.connect(self.dir / INDEX_NAME, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            ids = [r[0] for r in conn.execute("SELECT id FROM folders ORDER BY id")]
            for offset, folder_id in enumerate(ids, start=1):
                conn.execute("UPDATE folders SET uidvalidity = ?, first_recent = uidnext WHERE id = ?",
                             (floor + offset, folder_id))
            last = floor + len(ids)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_uidvalidity', ?)", (str(last),))
            conn.execute("COMMIT")
        finally:
            conn.close()
        (self.dir / UIDVALIDITY_FILE).write_text(f"{last}\n")

    def commit(self, archive_dir: Path) -> Path | None:
        """Swap the staged mailbox in; returns where the replaced live mailbox went (or None)."""
        if not (self.dir / INDEX_NAME).exists():
            raise ValueError(f"the backup of {self.address} has no index")
        self._complete_folders()
        replaced: Path | None = None
        live = self.target.is_dir()
        if live:
            self._new_uidvalidity(self.target)
        os.sync()  # every staged file on disk before the swap (one flush for the whole mailbox)
        aside = archive_dir / "replaced-by-restore"
        if live:
            replaced = self._retire(aside)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        caught: list[Path] = []  # mailboxes a delivery made between the two renames
        for _attempt in range(10):
            try:
                os.rename(self.dir, self.target)
                break
            except OSError:
                if not self.target.is_dir():
                    raise
                caught.append(self._retire(aside))
        else:
            raise OSError(f"{self.target} keeps being recreated; restore it again")
        forget(self.target / INDEX_NAME)
        fsync_dir(self.target.parent)
        for early in caught:
            self._redeliver(early)
        return replaced

    def _retire(self, aside: Path) -> Path:
        return retire(self.root, aside, self.address, "keep")

    def _redeliver(self, early: Path) -> None:
        """Put messages delivered in the instant between the two renames into the restored mailbox."""
        from .mailbox import Store

        box = Store(self.root).mailbox(self.address)
        conn = sqlite3.connect(f"file:{early / INDEX_NAME}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT f.name, f.dirname, m.subdir, m.fname FROM messages m"
                                " JOIN folders f ON f.id = m.folder_id ORDER BY m.folder_id, m.uid").fetchall()
        finally:
            conn.close()
        for name, dirname, subdir, fname in rows:
            base = early if dirname in ("", ".") else early / dirname
            box.deliver((base / subdir / fname).read_bytes(), name)

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def restore_mailbox(root: Path, address: str, archive_dir: Path,
                    files: Iterator[tuple[str, Callable[[], bytes], float | None]]) -> Path | None:
    """Build ``address``'s mailbox from ``files`` and swap it in; see ``StagedMailbox``."""
    staged = StagedMailbox(root, address)
    try:
        for rel, read, mtime in files:
            staged.write(rel, read(), mtime)
        return staged.commit(archive_dir)
    except BaseException:
        staged.abort()
        raise


def compare_with_live(restored: Path, live: Path) -> tuple[int, int, list[str]]:
    """Check a mailbox restored into a scratch directory: (messages, checked against live, problems).

    Every message its index names must be there, the folder counters must match the
    rows, and every message the live mailbox still holds (same unique name) must have
    the same SHA-256 checksum.
    """
    problems: list[str] = []
    messages = checked = 0
    conn = sqlite3.connect(f"file:{restored / INDEX_NAME}?mode=ro", uri=True)
    try:
        for folder_id, name, dirname, count in conn.execute("SELECT id, name, dirname, exists_count FROM folders"):
            rows = conn.execute("SELECT uniq, subdir, fname FROM messages WHERE folder_id = ?",
                                (folder_id,)).fetchall()
            if count != len(rows):
                problems.append(f"{name}: index counts {count} messages but lists {len(rows)}")
            base, live_base = (restored, live) if dirname in ("", ".") else (restored / dirname, live / dirname)
            live_files = _by_unique(live_base)
            for uniq, subdir, fname in rows:
                messages += 1
                try:
                    digest = hashlib.sha256((base / subdir / fname).read_bytes()).hexdigest()
                except FileNotFoundError:
                    problems.append(f"{name}: {fname} is missing from the restored mailbox")
                    continue
                other = live_files.get(uniq)
                if other is None:
                    continue  # expunged since the backup
                try:
                    live_digest = hashlib.sha256(other.read_bytes()).hexdigest()
                except FileNotFoundError:
                    continue
                checked += 1
                if live_digest != digest:
                    problems.append(f"{name}: {uniq} differs from the live message")
    finally:
        conn.close()
    return messages, checked, problems
