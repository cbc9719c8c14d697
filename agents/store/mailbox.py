"""A user's mailbox: its folders, deliveries into it, and its quota usage.

``Store(root).mailbox("alice@example.com")`` opens (and on first use creates)
``root/example.com/alice/`` with INBOX and the special-use folders.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mailcore import durable
from mailcore.addresses import directory_name_problem

from . import flags as flagset
from . import maildir, mime, mimetree, names, watch
from .errors import DeliveryHeld, FolderExists, FolderNotFound, InvalidAddress, StoreError
from .folder import Folder
from .index import INDEX_NAME, Index, open_index
from .sidecar import Sidecar, sidecar_name
from .types import FolderInfo

SPECIAL_USE = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Junk": "\\Junk", "Trash": "\\Trash"}
DELIVERY_RECORD_DAYS = 30
UIDVALIDITY_FILE = "mailapp-uidvalidity"
Delivery = tuple[bytes, str, str, Iterable[str]]  # deliver_many's item: raw, delivery key, folder, flags


@dataclass(slots=True)
class _Write:
    """One message of ``deliver_many`` written to tmp/, waiting for its commit."""

    n: int  # its place among the call's items
    target: Folder
    key: str
    uniq: str
    tmp: Path
    data: bytes
    flags: frozenset[str]
    summary: mime.Summary
    root: mimetree.Part  # its part tree, parsed once for the summary and the full-text index


def mailbox_path(root: Path, address: str) -> Path:
    """``root/<ascii domain>/<local part>`` for ``address``; raises InvalidAddress for unsafe ones."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress(f"{address!r} is not a mail address")
    domain = domain.lower().rstrip(".")
    if not domain.isascii():
        try:
            import idna

            domain = idna.encode(domain, uts46=True).decode("ascii")
        except Exception as exc:  # idna raises several types
            raise InvalidAddress(f"{address!r} has an invalid domain") from exc
    local = local.lower()
    for part in (local, domain):
        problem = directory_name_problem(part)
        if problem:
            raise InvalidAddress(f"{address!r} cannot name a mailbox directory: {problem}")
    return Path(root) / domain / local


class Store:
    """All mailboxes under one root directory (``settings.MAILAPP_MAIL_ROOT``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, address: str) -> Path:
        return mailbox_path(self.root, address)

    def mailbox(self, address: str) -> MailboxStore:
        """Open the mailbox of ``address``, creating its Maildir and special folders on first use."""
        return MailboxStore(self, address, self.path_for(address))

    def sidecar(self, name: str, schema: str) -> Sidecar:
        """A store-wide SQLite file ``.mailapp-<name>.sqlite`` at the root (see ``agents.store.sidecar``)."""
        return Sidecar(self.root / sidecar_name(name, hidden=True), schema)


class MailboxStore:
    """One mailbox: a Maildir++ tree plus its index. Cheap to make; make one per request or session."""

    def __init__(self, store: Store, address: str, path: Path) -> None:
        self.store = store
        self.address = address
        self.path = path
        self.index_path = path / INDEX_NAME
        path.mkdir(parents=True, exist_ok=True)
        self._inode = open_index(self.index_path, verify=True).inode
        self._ensure_folders()

    def still_current(self) -> bool:
        """Is the index this object opened still the mailbox's (not retired, restored or replaced)? One stat:
        a caller that keeps an opened mailbox for a while (delivery) checks this before reusing it."""
        try:
            return os.stat(self.index_path).st_ino == self._inode
        except FileNotFoundError:
            return False

    @property
    def _index(self) -> Index:
        # Another thread (an executor's) may hold a connection to a file since replaced (retired, restored).
        index = open_index(self.index_path, inode=self._inode)
        self._inode = index.inode
        return index

    def sidecar(self, name: str, schema: str) -> Sidecar:
        """This mailbox's SQLite file ``mailapp-<name>.sqlite`` beside its index (see ``agents.store.sidecar``)."""
        return Sidecar(self.path / sidecar_name(name), schema)

    # --- folders ---------------------------------------------------------------------------

    def _ensure_folders(self) -> None:
        """INBOX and the special-use folders exist (again, if a client deleted one: Dovecot's auto=subscribe).

        Safe when many sessions open a new mailbox at once: directories are made with
        ``exist_ok``, rows are added under the index lock only if still missing, and the
        subscriptions file is written under that lock from the committed state.
        """
        index = self._index
        present = {r[0] for r in index.conn.execute("SELECT name FROM folders")}
        missing = []
        for name in ("INBOX", *SPECIAL_USE):
            folder_dir = self.path / names.dirname(name, checked=True)
            if name in present and maildir.is_maildir(folder_dir):
                continue
            maildir.ensure(folder_dir, maildirfolder=name != "INBOX")
            if name not in present:
                missing.append(name)
        if missing:
            with index.write() as conn:
                for name in missing:
                    self._add_folder_row(conn, name)
                    conn.execute("INSERT OR IGNORE INTO subscriptions VALUES (?)", (name,))
                self._write_subscriptions(conn)

    def _add_folder_row(self, conn, name: str) -> int:  # type: ignore[no-untyped-def]
        existing = conn.execute("SELECT id FROM folders WHERE name = ?", (name,)).fetchone()
        if existing:
            return int(existing[0])
        uidvalidity = self._next_uidvalidity(conn)
        return int(
            conn.execute(
                "INSERT INTO folders (name, dirname, uidvalidity) VALUES (?, ?, ?) RETURNING id",
                (name, names.dirname(name, checked=True), uidvalidity),
            ).fetchone()[0]
        )

    def _next_uidvalidity(self, conn) -> int:  # type: ignore[no-untyped-def]
        """A UIDVALIDITY above every earlier one, also after the index was lost (kept in a file too, like Dovecot)."""
        last = conn.execute("SELECT value FROM meta WHERE key = 'last_uidvalidity'").fetchone()
        marker = self.path / UIDVALIDITY_FILE
        try:
            from_file = int(marker.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            from_file = 0
        value = max(int(last[0]) if last else 0, from_file, int(time.time()) - 1) + 1
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('last_uidvalidity', ?)", (str(value),))
        maildir.replace_durably(marker, f"{value}\n".encode())
        return value

    def _disk_folders(self) -> set[str]:
        found = {"INBOX"} if maildir.is_maildir(self.path) else set()
        for entry in os.scandir(self.path):
            if entry.is_dir() and entry.name.startswith("."):
                name = names.from_dirname(entry.name)
                if name and maildir.is_maildir(self.path / entry.name):
                    found.add(name)
        return found

    def list_folders(self) -> list[FolderInfo]:
        """All folders, INBOX first then by name; folders made by hand (mutt) are adopted."""
        index = self._index
        on_disk = self._disk_folders()
        rows = {r[0] for r in index.conn.execute("SELECT name FROM folders")}
        if on_disk - rows or (rows - on_disk):
            with index.write() as conn:
                for name in on_disk - rows:
                    self._add_folder_row(conn, name)
                for name in rows - on_disk - {"INBOX"}:
                    self._drop_folder_row(conn, name)
        subscribed = {r[0] for r in index.conn.execute("SELECT name FROM subscriptions")}
        listed = sorted(on_disk | {"INBOX"}, key=lambda n: (n != "INBOX", n))
        return [FolderInfo(n, SPECIAL_USE.get(n), n in subscribed) for n in listed]

    def folder(self, name: str, reuse: Folder | None = None) -> Folder:
        """Open a folder (rescanning it if its files changed); raises FolderNotFound or InvalidFolderName.

        ``reuse``: a folder of this mailbox opened before (a session selecting again what it had
        selected); returned, brought up to date, if it still is the folder of that name, which
        costs less than opening it anew (no lookup by name, no full read of its row).
        """
        canonical = names.normalize(name)
        dirname = names.dirname(canonical, checked=True)
        if reuse is not None and reuse.mailbox is self and reuse.name == canonical and (
                canonical == "INBOX" or maildir.is_maildir(self.path / dirname)):
            try:
                reuse.refresh()  # a deleted folder's row is gone: FolderNotFound; a renamed one follows its name
            except FolderNotFound:
                pass
            else:
                if reuse.name == canonical:
                    return reuse
        index = self._index
        row = index.conn.execute("SELECT id FROM folders WHERE name = ?", (canonical,)).fetchone()
        if row is None:
            if canonical != "INBOX" and not maildir.is_maildir(self.path / dirname):
                raise FolderNotFound(f"no folder {canonical!r}")
            with index.write() as conn:
                folder_id = self._add_folder_row(conn, canonical)
        else:
            folder_id = int(row[0])
            if canonical != "INBOX" and not maildir.is_maildir(self.path / dirname):
                with index.write() as conn:
                    self._drop_folder_row(conn, canonical)
                raise FolderNotFound(f"no folder {canonical!r}")
        return Folder(self, folder_id, canonical, dirname)

    def exists(self, name: str) -> bool:
        try:
            self.folder(name)
        except FolderNotFound:
            return False
        return True

    def create_folder(self, name: str) -> FolderInfo:
        """Create an empty folder; raises FolderExists or InvalidFolderName."""
        canonical = names.normalize(name)
        folder_dir = self.path / names.dirname(canonical, checked=True)
        with self._index.write() as conn:  # checked under the lock: two creators must not both succeed
            if canonical == "INBOX" or maildir.is_maildir(folder_dir):
                raise FolderExists(f"folder {canonical!r} exists already")
            self._drop_folder_row(conn, canonical)  # a stale row of a folder removed by hand
            self._add_folder_row(conn, canonical)
            maildir.ensure(folder_dir, maildirfolder=True)
        return FolderInfo(canonical, SPECIAL_USE.get(canonical), False)

    def _drop_folder_row(self, conn, name: str) -> None:  # type: ignore[no-untyped-def]
        row = conn.execute("SELECT id FROM folders WHERE name = ?", (name,)).fetchone()
        if row is None:
            return
        for table in ("messages", "mime", "mime_wire", "expunged", "keywords"):
            conn.execute(f"DELETE FROM {table} WHERE folder_id = ?", (row[0],))
        conn.execute("DELETE FROM folders WHERE id = ?", (row[0],))

    def delete_folder(self, name: str) -> None:
        """Delete a folder and its messages (not its sub-folders, which stay as they are).

        INBOX cannot be deleted. A special-use folder can; it is made again, empty,
        the next time the mailbox is opened (as Dovecot does with ``auto = subscribe``).
        """
        canonical = names.normalize(name)
        if canonical == "INBOX":
            raise StoreError("INBOX cannot be deleted")
        folder_dir = self.path / names.dirname(canonical, checked=True)
        if not maildir.is_maildir(folder_dir):
            raise FolderNotFound(f"no folder {canonical!r}")
        doomed = self.path / f"mailapp-deleted-{uuid.uuid4().hex}"  # not a Maildir++ name: invisible to readers
        with self._index.write() as conn:
            os.rename(folder_dir, doomed)
            self._drop_folder_row(conn, canonical)
        shutil.rmtree(doomed, ignore_errors=True)
        watch.size_changed(self.path, self._index)

    def rename_folder(self, old: str, new: str) -> None:
        """Rename a folder with all its sub-folders, keeping UIDs and UIDVALIDITY.

        Renaming INBOX moves its messages into a new folder ``new`` and leaves
        INBOX empty (RFC 3501 6.3.5).
        """
        source, target = names.normalize(old), names.normalize(new)
        if target == "INBOX" or maildir.is_maildir(self.path / names.dirname(target, checked=True)):
            raise FolderExists(f"folder {target!r} exists already")
        if target.startswith(source + "/"):
            raise StoreError("a folder cannot be moved into itself")
        if source == "INBOX":
            inbox = self.folder("INBOX")
            self.create_folder(target)
            inbox.move(inbox.uids(), target)
            return
        if not maildir.is_maildir(self.path / names.dirname(source, checked=True)):
            raise FolderNotFound(f"no folder {source!r}")
        moving = sorted(n for n in self._disk_folders() if n == source or n.startswith(source + "/"))
        plan = [(n, target + n[len(source) :]) for n in moving]
        for _, renamed in plan:
            names.normalize(renamed)  # the longer names must still be valid
            if maildir.is_maildir(self.path / names.dirname(renamed, checked=True)):
                raise FolderExists(f"folder {renamed!r} exists already")
        with self._index.write() as conn:
            for before, after in plan:
                after_dir = names.dirname(after, checked=True)
                os.rename(self.path / names.dirname(before, checked=True), self.path / after_dir)
                conn.execute(
                    "UPDATE folders SET name = ?, dirname = ? WHERE name = ?",
                    (after, after_dir, before),
                )
                conn.execute("UPDATE subscriptions SET name = ? WHERE name = ?", (after, before))
            self._write_subscriptions(conn)

    def subscribe(self, name: str, on: bool = True) -> None:
        """Add or remove a folder from the subscription list (the folder need not exist, as in IMAP)."""
        canonical = names.normalize(name)
        with self._index.write() as conn:
            if on:
                conn.execute("INSERT OR IGNORE INTO subscriptions VALUES (?)", (canonical,))
            else:
                conn.execute("DELETE FROM subscriptions WHERE name = ?", (canonical,))
            self._write_subscriptions(conn)

    def subscriptions(self) -> list[str]:
        return [r[0] for r in self._index.conn.execute("SELECT name FROM subscriptions ORDER BY name")]

    def _write_subscriptions(self, conn: sqlite3.Connection) -> None:
        """Dovecot's Maildir++ ``subscriptions`` file: one name a line, '.' as the separator (default namespace).

        Called inside the index write transaction that changed the list, so concurrent
        writers take turns and the file always holds the list as committed last.
        """
        rows = conn.execute("SELECT name FROM subscriptions ORDER BY name")
        text = "".join(r[0].replace("/", ".") + "\n" for r in rows)
        maildir.replace_durably(self.path / "subscriptions", text.encode("utf-8"))

    # --- delivery and quota ----------------------------------------------------------------

    def usage(self) -> int:
        """Bytes stored in all folders (kept by the index; no scan)."""
        return int(self._index.conn.execute("SELECT total(bytes) FROM folders").fetchone()[0])

    def message_count(self) -> int:
        """Messages in all folders (kept by the index; no scan)."""
        return int(self._index.conn.execute("SELECT total(exists_count) FROM folders").fetchone()[0])

    def deliver(
        self,
        raw: bytes,
        folder: str = "INBOX",
        flags: Iterable[str] = (),
        delivery_key: str | None = None,
        internaldate: datetime | None = None,
    ) -> tuple[str, int]:
        """Store a message durably in ``folder`` (made if missing); returns (folder name, UID).

        With ``delivery_key`` it happens once: a repeated call, even after a crash
        at any point of the first, stores nothing new and returns the first result.
        Invalid flags are dropped (never a reason to refuse mail); an invalid folder
        name raises InvalidFolderName (a ValueError) so the caller can fall back to INBOX.
        """
        wanted = flagset.normalize(flags, strict=False)
        if delivery_key is None:
            target = self._delivery_folder(folder)
            return target.name, target.append(raw, wanted, internaldate)
        data = maildir.to_crlf(bytes(raw))
        done = self._delivery_done(self._index.conn, delivery_key)
        if done is not None:
            return done
        target = self._delivery_folder(folder)
        uniq = maildir.keyed_name(delivery_key)
        tmp = self._delivery_write(target, uniq, data)
        return self._delivery_commit(target, delivery_key, uniq, tmp, data, wanted, internaldate)

    def deliver_many(self, items: Sequence[Delivery],
                     guard: Callable[[], str] | None = None) -> list[tuple[str, int] | Exception]:
        """Store several keyed deliveries with one group commit; one result per item, in order.

        Each item is ``(raw, delivery_key, folder, flags)`` and, as with :meth:`deliver`,
        is stored at most once per key (also when a key comes twice in one call, or a
        call is retried after a crash at any point). Each message file is written and
        fsynced; then all are renamed into place, each directory is fsynced once, and
        the index commits once, durably, for the whole batch: when this returns, every
        (folder name, UID) in the result is durable. An item whose folder cannot be
        used gets the exception instead (InvalidFolderName for a bad name: the caller
        may try INBOX); any other failure raises, and then nothing new is indexed
        (files already renamed are adopted by the retry).

        ``guard()`` is asked inside the index's write transaction, just before anything is
        indexed; a non-empty answer stores nothing and raises :class:`DeliveryHeld` with it. Asked
        there, it closes the gap between a check and the commit: a reader that takes the index's
        write lock (a mailbox move's last copy) sees the batch either whole or not at all, and
        never after saying no.
        """
        results: list[tuple[str, int] | Exception | None] = [None] * len(items)
        first: dict[str, int] = {}  # key -> the item that stores it
        folders: dict[str, Folder] = {}
        writes: list[_Write] = []
        conn = self._index.conn
        done = self._deliveries_done(conn, [key for _, key, _, _ in items])
        for n, (raw, key, folder, flags) in enumerate(items):
            if key in first:
                continue
            first[key] = n
            results[n] = done.get(key)
            if results[n] is not None:
                continue
            try:
                if folder not in folders:
                    folders[folder] = self._delivery_folder(folder)
            except ValueError as exc:  # InvalidFolderName
                results[n] = exc
                continue
            target = folders[folder]
            data = maildir.to_crlf(bytes(raw))
            uniq = maildir.keyed_name(key)
            root = mimetree.parse(data)
            writes.append(_Write(n, target, key, uniq, self._delivery_write(target, uniq, data, sync=False), data,
                                 flagset.normalize(flags, strict=False), mime.summarize(data, root), root))
        # Every file durable before any is renamed into place: fsynced together (the journal
        # folds concurrent fsyncs; one after another, 50 of them were most of a batch's time).
        durable.fsync_files([write.tmp for write in writes])
        if writes:
            with self._index.write(durable=True):  # the commits below join this one transaction
                why = guard() if guard is not None else ""
                if why:
                    for write in writes:
                        write.tmp.unlink(missing_ok=True)
                    raise DeliveryHeld(why)
                self._commit_many(conn, writes, results)
                for place in {write.target.path / ("cur" if write.flags else "new") for write in writes}:
                    maildir.fsync_dir(place)  # before the index commits: an indexed file's name is durable
        return [results[first[key]] for _, key, _, _ in items]  # type: ignore[misc]

    def _commit_many(self, conn: sqlite3.Connection, writes: list[_Write],
                     results: list[tuple[str, int] | Exception | None]) -> None:
        """Index a batch's files (in the caller's write transaction) with statements shared by the batch.

        Keys done meanwhile (a concurrent retry) and files an earlier attempt left (indexed, or
        renamed into place before a crash) are adopted as :meth:`_delivery_commit` would; the rest of
        each folder goes in with one ``FolderWriter.commit_files``, and their keys with one ``executemany``.
        """
        done = self._deliveries_done(conn, [write.key for write in writes])
        by_folder: dict[int, list[_Write]] = {}
        for write in writes:
            if write.key in done:  # a concurrent retry finished first
                write.tmp.unlink(missing_ok=True)
                results[write.n] = done[write.key]
            else:
                by_folder.setdefault(write.target.id, []).append(write)
        now = int(time.time())
        records = []
        for group in by_folder.values():
            target = group[0].target
            found = dict(conn.execute(
                "SELECT uniq, uid FROM messages WHERE folder_id = ? AND uniq IN (SELECT value FROM json_each(?))",
                (target.id, json.dumps([write.uniq for write in group]))).fetchall())  # fmt: skip
            fresh = []
            for write in group:
                if write.uniq in found:  # indexed by an earlier attempt (or a rescan of its file)
                    write.tmp.unlink(missing_ok=True)
                    results[write.n] = (target.name, int(found[write.uniq]))
                    records.append((write.key, target.name, write.uniq, int(found[write.uniq]), now))
                elif (target.path / "new" / write.uniq).exists() or \
                        (target.path / "cur" / maildir.file_name(write.uniq, write.flags)).exists():
                    # renamed into place before a crash: one at a time, as a single delivery adopts it
                    results[write.n] = self._delivery_commit(target, write.key, write.uniq, write.tmp, write.data,
                                                             write.flags, None, sync_dir=False)
                else:
                    fresh.append(write)
            uids = target.writer.commit_files(
                conn, [(write.tmp, write.uniq, write.data, write.flags, write.summary, write.root) for write in fresh])
            for write, uid in zip(fresh, uids, strict=True):
                results[write.n] = (target.name, uid)
                records.append((write.key, target.name, write.uniq, uid, now))
        if records:
            conn.executemany("INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?)", records)
            index = self._index
            if index.pruned != now // 3600:  # old keys go once an hour per connection, not with every batch
                conn.execute("DELETE FROM deliveries WHERE created < ?", (now - DELIVERY_RECORD_DAYS * 86400,))
                index.pruned = now // 3600

    @staticmethod
    def _deliveries_done(conn: sqlite3.Connection, keys: list[str]) -> dict[str, tuple[str, int]]:
        """:meth:`_delivery_done` for many keys in one query."""
        if len(keys) == 1:
            one = MailboxStore._delivery_done(conn, keys[0])
            return {keys[0]: one} if one is not None else {}
        rows = conn.execute("SELECT key, folder, uid FROM deliveries WHERE uid IS NOT NULL"
                            " AND key IN (SELECT value FROM json_each(?))", (json.dumps(keys),))
        return {row[0]: (row[1], int(row[2])) for row in rows}

    def _delivery_folder(self, name: str) -> Folder:
        try:
            return self.folder(name)
        except FolderNotFound:
            try:
                self.create_folder(name)
            except FolderExists:
                pass  # made by a concurrent delivery
            return self.folder(name)

    @staticmethod
    def _delivery_done(conn, key: str) -> tuple[str, int] | None:  # type: ignore[no-untyped-def]
        row = conn.execute("SELECT folder, uid FROM deliveries WHERE key = ? AND uid IS NOT NULL", (key,)).fetchone()
        return (row[0], int(row[1])) if row else None

    def _delivery_write(self, target: Folder, uniq: str, data: bytes, sync: bool = True) -> Path:
        """Step 1: the message in tmp/ under a name of its own (a concurrent retry never shares it),
        fsynced (``sync=False``: by the caller, before step 2)."""
        return maildir.write_tmp(target.path, f"{uniq}.{uuid.uuid4().hex[:12]}", data, sync)

    def _delivery_commit(
        self,
        target: Folder,
        key: str,
        uniq: str,
        tmp: Path,
        data: bytes,
        wanted: frozenset[str],
        internaldate: datetime | None,
        sync_dir: bool = True,
    ) -> tuple[str, int]:
        """Step 2, one commit: rename into new/ or cur/, fsync the directory, index it, record the key.

        The file name derives from the key, so a retry after a crash between the
        rename and the commit finds the file (or its index row) and adopts it
        instead of storing a second copy. ``sync_dir=False``: the caller fsyncs the
        directory before the transaction this joins commits (:meth:`deliver_many`).
        """
        summary = mime.summarize(data)
        index = self._index
        with index.write(durable=True) as conn:
            done = self._delivery_done(conn, key)
            if done is not None:  # a concurrent retry finished first
                tmp.unlink(missing_ok=True)
                return done
            uid = self._delivery_find(conn, target, uniq, wanted)
            if uid is not None:
                tmp.unlink(missing_ok=True)
                self._delivery_record(conn, key, target.name, uniq, uid)
                return target.name, uid

            def record(conn, uid: int) -> None:  # type: ignore[no-untyped-def]
                self._delivery_record(conn, key, target.name, uniq, uid)

            uid = target.writer.commit_file(tmp, uniq, data, wanted, internaldate, summary, after_insert=record,
                                            sync_dir=sync_dir)
            return target.name, uid

    @staticmethod
    def _delivery_record(conn, key: str, folder: str, uniq: str, uid: int) -> None:  # type: ignore[no-untyped-def]
        now = int(time.time())
        conn.execute("INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?)", (key, folder, uniq, uid, now))
        conn.execute("DELETE FROM deliveries WHERE created < ?", (now - DELIVERY_RECORD_DAYS * 86400,))

    @staticmethod
    def _delivery_find(conn, target: Folder, uniq: str, wanted: frozenset[str]) -> int | None:  # type: ignore[no-untyped-def]
        """UID of an earlier attempt's file: indexed already, or renamed into place before a crash."""
        query = "SELECT uid FROM messages WHERE folder_id = ? AND uniq = ?"
        row = conn.execute(query, (target.id, uniq)).fetchone()
        if row is None:
            places = (target.path / "new" / uniq, target.path / "cur" / maildir.file_name(uniq, wanted))
            if any(place.exists() for place in places):
                target.rescan()
                row = conn.execute(query, (target.id, uniq)).fetchone()
        return int(row[0]) if row else None
