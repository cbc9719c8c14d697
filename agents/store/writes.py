"""Changes to a folder: append, flags, expunge, copy and move, and claiming \\Recent.

A :class:`FolderWriter` is the changing half of a folder: every
:class:`~agents.store.folder.Folder` owns one (``folder.writer``) and forwards its
write methods to it. The two share only a :class:`~agents.store.place.FolderPlace`.

Every change runs in one short index write transaction that also performs the
file operations (rename, link, unlink), so the recorded directory mtimes in the
index stay in step with the disk. A crash in the middle leaves the directories
newer than recorded, and the next ``refresh()`` rescans and repairs the index
from the files (which always win for presence and system flags).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import flags as flagset
from . import fulltext, maildir, mime, mimetree, watch
from .errors import StoreError
from .place import FolderPlace, meta_from_row, uid_list
from .types import FlagResult, MessageMeta

CACHE_WAIT = 0.25  # seconds a FETCH waits for the index lock to keep wire forms (then it skips keeping them)

FLAG_MODES = {"set": "set", "replace": "set", "add": "add", "+": "add", "remove": "remove", "-": "remove"}
AfterInsert = Callable[[sqlite3.Connection, int], None]


class FolderWriter:
    """Every change to one folder. Made by its Folder; share the folder's ``place``."""

    def __init__(self, place: FolderPlace) -> None:
        self.place = place

    @property
    def id(self) -> int:
        return self.place.id

    @property
    def path(self) -> Path:
        return self.place.path

    def locate(self) -> None:
        """Follow a rename by another session (raises FolderNotFound if the folder was deleted)."""
        row = self.place.index.conn.execute("SELECT name, dirname FROM folders WHERE id = ?", (self.id,)).fetchone()
        if row is None:
            raise self.place.gone()
        self.place.follow(row[0], row[1])

    @contextmanager
    def _tracking(self, conn: sqlite3.Connection) -> Iterator[None]:
        """Around our own file operations: keep the recorded mtimes current unless someone else changed a dir."""
        recorded = conn.execute(
            "SELECT new_mtime, cur_mtime, name, dirname FROM folders WHERE id = ?", (self.id,)
        ).fetchone()
        if recorded is None:
            raise self.place.gone()
        self.place.follow(recorded[2], recorded[3])
        before = maildir.dir_mtimes(self.path)
        yield
        after = maildir.dir_mtimes(self.path)
        new_mtime = after[0] if before[0] == recorded[0] else recorded[0]
        cur_mtime = after[1] if before[1] == recorded[1] else recorded[1]
        conn.execute("UPDATE folders SET new_mtime = ?, cur_mtime = ? WHERE id = ?", (new_mtime, cur_mtime, self.id))

    def bump(self, conn: sqlite3.Connection) -> int:
        return int(
            conn.execute(
                "UPDATE folders SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq", (self.id,)
            ).fetchone()[0]
        )

    def _take_uids(self, conn: sqlite3.Connection, count: int) -> int:
        """Reserve ``count`` UIDs; returns the first."""
        return int(
            conn.execute(
                "UPDATE folders SET uidnext = uidnext + ? WHERE id = ? RETURNING uidnext - ?", (count, self.id, count)
            ).fetchone()[0]
        )

    def insert(
        self,
        conn: sqlite3.Connection,
        *,
        uniq: str,
        subdir: str,
        fname: str,
        flags: frozenset[str],
        size: int,
        internaldate: int,
        summary: mime.Summary,
        modseq: int,
        data: bytes | None = None,
    ) -> int:
        """Index one message (``data``, when given, also goes into the full-text index)."""
        uid = self._take_uids(conn, 1)
        conn.execute(
            "INSERT INTO messages (folder_id, uid, uniq, subdir, fname, flags, seen, modseq, size, internaldate,"
            " hdr_from, hdr_to, hdr_cc, hdr_subject, hdr_date, hdr_message_id, hdr_in_reply_to, has_attachments)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.id, uid, uniq, subdir, fname, flagset.encode(flags), int("\\Seen" in flags), modseq, size,
             internaldate, summary.from_, summary.to, summary.cc, summary.subject, summary.date,
             summary.message_id, summary.in_reply_to, int(summary.has_attachments)),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO mime (folder_id, uid, envelope, bodystructure) VALUES (?, ?, ?, ?)",
            (self.id, uid, json.dumps(summary.envelope), json.dumps(summary.bodystructure)),
        )
        self._remember_keywords(conn, flags)
        if data is not None:
            fulltext.add(conn, self.id, uid, data)
        else:
            fulltext.mark_incomplete(conn, self.id)
        return uid

    def replace_summary(self, uid: int, summary: mime.Summary) -> None:
        """Replace a message's cached MIME data and list headers (summarised again by newer code).

        No MODSEQ change: the message did not change, only what the index knows about it.
        """
        with self.place.index.write() as conn:
            conn.execute(
                "UPDATE mime SET envelope = ?, bodystructure = ? WHERE folder_id = ? AND uid = ?",
                (json.dumps(summary.envelope), json.dumps(summary.bodystructure), self.id, uid),
            )
            conn.execute("DELETE FROM mime_wire WHERE folder_id = ? AND uid = ?", (self.id, uid))
            conn.execute(
                "UPDATE messages SET hdr_from = ?, hdr_to = ?, hdr_cc = ?, hdr_subject = ?, hdr_date = ?,"
                " hdr_message_id = ?, hdr_in_reply_to = ?, has_attachments = ? WHERE folder_id = ? AND uid = ?",
                (summary.from_, summary.to, summary.cc, summary.subject, summary.date, summary.message_id,
                 summary.in_reply_to, int(summary.has_attachments), self.id, uid),
            )  # fmt: skip

    def keep_wire(self, version: int, rows: Iterable[tuple[int, bytes, bytes, bytes]]) -> bool:
        """Cache the IMAP wire form of (uid, ENVELOPE, BODYSTRUCTURE, BODY), made from this index's summary.

        ``version`` is the caller's already combined with ``mime.STRUCTURE_VERSION`` (see
        ``Folder.wire``). A cache: a message expunged meanwhile gets no row, and a writer
        holding the index is waited for ``CACHE_WAIT`` seconds at most (the FETCH is answered anyway).
        Returns False if the rows were not written (then the next FETCH makes them again).
        """
        params = [(self.id, uid, version, env, structure, body, self.id, uid) for uid, env, structure, body in rows]
        if not params:
            return False
        index = self.place.index
        try:
            with index.patience(CACHE_WAIT), index.write() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO mime_wire (folder_id, uid, version, envelope, bodystructure, body)"
                    " SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM messages WHERE folder_id = ? AND uid = ?)",
                    params,
                )
        except sqlite3.OperationalError:  # another writer kept the lock: skip, the next FETCH tries again
            return False
        return True

    def _remember_keywords(self, conn: sqlite3.Connection, flags: Iterable[str]) -> None:
        words = [(self.id, f) for f in flags if not f.startswith("\\")]
        if words:
            conn.executemany("INSERT OR IGNORE INTO keywords VALUES (?, ?)", words)

    def append(self, raw: bytes, flags: Iterable[str] = (), internaldate: datetime | None = None) -> int:
        """Store a message durably (file and directory fsynced, index committed); returns its UID."""
        data = maildir.to_crlf(bytes(raw))
        wanted = flagset.normalize(flags)
        summary = mime.summarize(data)
        uniq = maildir.unique_name(len(data))
        self.locate()  # follow a rename by another session before writing into the folder's tmp/
        tmp = maildir.write_tmp(self.path, uniq, data)
        uid = self.commit_file(tmp, uniq, data, wanted, internaldate, summary)
        watch.size_changed(self.place.mailbox_path, self.place.index)
        return uid

    def commit_file(
        self,
        tmp: Path,
        uniq: str,
        data: bytes,
        wanted: frozenset[str],
        internaldate: datetime | None,
        summary: mime.Summary,
        after_insert: AfterInsert | None = None,
        sync_dir: bool = True,
    ) -> int:
        """Rename ``tmp`` into ``new/`` (no flags) or ``cur/``, fsync the directory, and index it.

        ``sync_dir=False`` leaves the directory fsync to a caller whose outer transaction this joins.
        """
        when = int((internaldate or datetime.now(UTC)).timestamp())
        os.utime(tmp, (when, when))  # Dovecot takes INTERNALDATE from the file's mtime
        subdir = "cur" if wanted else "new"
        fname = maildir.file_name(uniq, wanted) if wanted else uniq
        index = self.place.index
        with index.write(durable=True) as conn, self._tracking(conn):
            os.rename(tmp, self.path / subdir / fname)
            if sync_dir:
                maildir.fsync_dir(self.path / subdir)
            uid = self.insert(conn, uniq=uniq, subdir=subdir, fname=fname, flags=wanted, size=len(data),
                               internaldate=when, summary=summary, modseq=self.bump(conn), data=data)  # fmt: skip
            if after_insert is not None:
                after_insert(conn, uid)
        return uid

    def commit_files(self, conn: sqlite3.Connection,
                     files: list[tuple[Path, str, bytes, frozenset[str], mime.Summary, mimetree.Part | None]],
                     ) -> list[int]:
        """:meth:`commit_file` for many messages, inside the caller's write transaction; their UIDs, in order.

        Each ``(tmp, uniq, data, flags, summary, part tree)`` is renamed into ``new/`` (no flags) or ``cur/``
        and indexed, with statements shared by all of them: the folder row read and written
        once, the UIDs and MODSEQs taken as one range (each message still its own, in order),
        the rows inserted with ``executemany``. The caller fsyncs the directories before its
        transaction commits (``deliver_many``). A delivery batch to one mailbox paid some
        twenty statements per message before; this is about ten for the batch and a row each.
        """
        if not files:
            return []
        count = len(files)
        now = int(datetime.now(UTC).timestamp())
        # The folder row once: its MODSEQ and UIDs taken as ranges, and the recorded directory
        # stamps read (as ``_tracking`` does) in the same statement.
        recorded = conn.execute(
            "UPDATE folders SET highestmodseq = highestmodseq + ?, uidnext = uidnext + ? WHERE id = ?"
            " RETURNING highestmodseq - ?, uidnext - ?, new_mtime, cur_mtime, name, dirname",
            (count, count, self.id, count - 1, count)).fetchone()  # fmt: skip
        if recorded is None:
            raise self.place.gone()
        first_modseq, first_uid = int(recorded[0]), int(recorded[1])
        self.place.follow(recorded[4], recorded[5])
        before = maildir.dir_mtimes(self.path)
        messages: list[tuple] = []
        mimes: list[tuple[int, int, str, str]] = []
        words: set[tuple[int, str]] = set()
        texts: list[tuple[int, bytes, mimetree.Part | None]] = []
        for n, (tmp, uniq, data, wanted, summary, root) in enumerate(files):
            os.utime(tmp, (now, now))  # Dovecot takes INTERNALDATE from the file's mtime
            subdir = "cur" if wanted else "new"
            fname = maildir.file_name(uniq, wanted) if wanted else uniq
            os.rename(tmp, os.path.join(self.path, subdir, fname))
            uid = first_uid + n
            messages.append((self.id, uid, uniq, subdir, fname, flagset.encode(wanted), int("\\Seen" in wanted),
                             first_modseq + n, len(data), now, summary.from_, summary.to, summary.cc,
                             summary.subject, summary.date, summary.message_id, summary.in_reply_to,
                             int(summary.has_attachments)))
            mimes.append((self.id, uid, json.dumps(summary.envelope), json.dumps(summary.bodystructure)))
            words.update((self.id, f) for f in wanted if not f.startswith("\\"))
            texts.append((uid, data, root))
        conn.executemany(
            "INSERT INTO messages (folder_id, uid, uniq, subdir, fname, flags, seen, modseq, size, internaldate,"
            " hdr_from, hdr_to, hdr_cc, hdr_subject, hdr_date, hdr_message_id, hdr_in_reply_to, has_attachments)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", messages)  # fmt: skip
        conn.executemany("INSERT INTO mime (folder_id, uid, envelope, bodystructure) VALUES (?, ?, ?, ?)", mimes)
        if words:
            conn.executemany("INSERT OR IGNORE INTO keywords VALUES (?, ?)", sorted(words))
        fulltext.add_many(conn, self.id, texts)
        after = maildir.dir_mtimes(self.path)
        new_mtime = after[0] if before[0] == recorded[2] else recorded[2]  # as _tracking: unless someone else
        cur_mtime = after[1] if before[1] == recorded[3] else recorded[3]  # changed a directory meanwhile
        conn.execute("UPDATE folders SET new_mtime = ?, cur_mtime = ? WHERE id = ?", (new_mtime, cur_mtime, self.id))
        return [first_uid + n for n in range(count)]

    def store_flags(
        self, uids: Iterable[int], flags: Iterable[str], mode: str = "set", unchangedsince: int | None = None
    ) -> FlagResult:
        """Set (``set``), add (``add``) or remove (``remove``) flags on existing messages among ``uids``.

        Returns every matched message in its new state; with ``unchangedsince``
        (CONDSTORE) messages whose MODSEQ is higher are left alone and listed in
        ``result.modified``. Messages that did not change keep their MODSEQ.
        """
        how = FLAG_MODES.get(mode)
        if how is None:
            raise StoreError(f"unknown flag mode {mode!r}")
        given = flagset.normalize(flags)
        result = FlagResult()
        wanted = sorted({int(u) for u in uids})
        index = self.place.index
        # One folder row read and one written (MODSEQ and the directory stamps together), as
        # ``_tracking`` and ``bump`` would do in four statements: a STORE is a frequent write.
        with index.write() as conn:
            recorded = conn.execute(
                "SELECT new_mtime, cur_mtime, name, dirname, highestmodseq FROM folders WHERE id = ?", (self.id,)
            ).fetchone()
            if recorded is None:
                raise self.place.gone()
            place = self.place
            place.follow(recorded[2], recorded[3])
            before = maildir.stat_mtimes(place.subdirs)
            if len(wanted) == 1:
                rows = conn.execute(
                    "SELECT uid, flags, size, internaldate, modseq, uniq, subdir, fname FROM messages"
                    " WHERE folder_id = ? AND uid = ?", (self.id, wanted[0])).fetchall()  # fmt: skip
            else:
                rows = conn.execute(
                    "SELECT uid, flags, size, internaldate, modseq, uniq, subdir, fname FROM messages"
                    " WHERE folder_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
                    (self.id, json.dumps(wanted)),
                ).fetchall()
            modseq = None
            updates = []
            folder_dir = str(place.path)
            for row in rows:
                uid, old = row[0], flagset.decode(row[1])
                if unchangedsince is not None and row[4] > unchangedsince:
                    result.modified.append(uid)
                    continue
                new = given if how == "set" else (old | given if how == "add" else old - given)
                if new == old:
                    result.append(meta_from_row(row))
                    continue
                if modseq is None:
                    modseq = int(recorded[4]) + 1  # the write lock is ours: nobody else bumps it meanwhile
                subdir, fname = row[6], row[7]
                if subdir == "new" or maildir.letters(new) != maildir.letters(old):
                    target = maildir.file_name(row[5], new)
                    try:
                        os.rename(os.path.join(folder_dir, subdir, fname), os.path.join(folder_dir, "cur", target))
                        subdir, fname = "cur", target
                    except FileNotFoundError:
                        pass  # removed behind our back: the next rescan drops it
                updates.append((flagset.encode(new), int("\\Seen" in new), modseq, subdir, fname, self.id, uid))
                result.append(MessageMeta(uid, new, row[2], datetime.fromtimestamp(row[3], UTC), modseq, row[5]))
            if updates:
                conn.executemany(
                    "UPDATE messages SET flags = ?, seen = ?, modseq = ?, subdir = ?, fname = ?"
                    " WHERE folder_id = ? AND uid = ?",
                    updates,
                )
            self._remember_keywords(conn, given)
            after = maildir.stat_mtimes(place.subdirs)
            new_mtime = after[0] if before[0] == recorded[0] else recorded[0]
            cur_mtime = after[1] if before[1] == recorded[1] else recorded[1]
            if modseq is not None or (new_mtime, cur_mtime) != (recorded[0], recorded[1]):
                conn.execute("UPDATE folders SET new_mtime = ?, cur_mtime = ?, highestmodseq = ? WHERE id = ?",
                             (new_mtime, cur_mtime, modseq if modseq is not None else recorded[4], self.id))
        return result

    def expunge(self, uids: Iterable[int] | None = None, *, deleted_only: bool | None = None) -> list[int]:
        """Remove messages for good; returns the UIDs removed, ascending.

        ``expunge()`` removes every message flagged ``\\Deleted`` (IMAP EXPUNGE);
        ``expunge(uids)`` removes exactly those (POP3, webmail); pass
        ``deleted_only=True`` with ``uids`` for IMAP ``UID EXPUNGE``.
        """
        only_deleted = (uids is None) if deleted_only is None else deleted_only
        query = "SELECT uid, subdir, fname FROM messages WHERE folder_id = ?"
        params: list[Any] = [self.id]
        if uids is not None:
            query += " AND uid IN (SELECT value FROM json_each(?))"
            params.append(uid_list(uids))
        if only_deleted:
            query += " AND instr(flags, '\\Deleted') > 0"
        index = self.place.index
        with index.write() as conn, self._tracking(conn):
            rows = conn.execute(query + " ORDER BY uid", params).fetchall()
            if not rows:
                return []
            modseq = self.bump(conn)
            for _uid, subdir, fname in rows:
                try:
                    os.unlink(self.path / subdir / fname)
                except FileNotFoundError:
                    pass
            self.forget(conn, [r[0] for r in rows], modseq)
        watch.size_changed(self.place.mailbox_path, index)
        return [r[0] for r in rows]

    def forget(self, conn: sqlite3.Connection, uids: list[int], modseq: int) -> None:
        conn.executemany("DELETE FROM messages WHERE folder_id = ? AND uid = ?", [(self.id, u) for u in uids])
        conn.executemany("INSERT INTO expunged VALUES (?, ?, ?)", [(self.id, u, modseq) for u in uids])

    def copy(self, uids: Iterable[int], dest: FolderWriter) -> dict[int, int]:
        """Copy messages into ``dest`` (hard links, like Dovecot); returns {source UID: new UID}."""
        return self._transfer(uids, dest, move=False)

    def move(self, uids: Iterable[int], dest: FolderWriter) -> dict[int, int]:
        """Move messages into ``dest`` atomically (RFC 6851); returns {source UID: new UID}."""
        return self._transfer(uids, dest, move=True)

    def _transfer(self, uids: Iterable[int], dest: FolderWriter, *, move: bool) -> dict[int, int]:
        wanted = uid_list(uids)
        mapping: dict[int, int] = {}
        index = self.place.index
        with index.write(durable=True) as conn, self._tracking(conn), dest._tracking(conn):
            rows = conn.execute(
                "SELECT uid, uniq, subdir, fname, flags, size FROM messages"
                " WHERE folder_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
                (self.id, wanted),
            ).fetchall()
            if not rows:
                return {}
            dest_modseq = dest.bump(conn)
            first = dest._take_uids(conn, len(rows))
            moved: list[int] = []
            for offset, (uid, _uniq, subdir, fname, flags_text, size) in enumerate(rows):
                new_uniq = maildir.unique_name(size)
                new_fname = maildir.file_name(new_uniq, flagset.decode(flags_text))
                source, target = self.path / subdir / fname, dest.path / "cur" / new_fname
                try:
                    if move:
                        os.rename(source, target)
                    else:
                        _link_or_copy(source, target)
                except FileNotFoundError:
                    continue  # the file vanished: nothing to copy, the rescan drops it
                new_uid = first + offset
                mapping[uid] = new_uid
                moved.append(uid)
                conn.execute(
                    "INSERT INTO messages (folder_id, uid, uniq, subdir, fname, flags, seen, modseq, size,"
                    " internaldate, hdr_from, hdr_to, hdr_cc, hdr_subject, hdr_date, hdr_message_id, hdr_in_reply_to,"
                    " has_attachments) SELECT ?, ?, ?, 'cur', ?, flags, seen, ?, size, internaldate,"
                    " hdr_from, hdr_to, hdr_cc, hdr_subject, hdr_date, hdr_message_id, hdr_in_reply_to,"
                    " has_attachments FROM messages WHERE folder_id = ? AND uid = ?",
                    (dest.id, new_uid, new_uniq, new_fname, dest_modseq, self.id, uid),
                )
                conn.execute(
                    "INSERT INTO mime (folder_id, uid, envelope, bodystructure)"
                    " SELECT ?, ?, envelope, bodystructure FROM mime WHERE folder_id = ? AND uid = ?",
                    (dest.id, new_uid, self.id, uid),
                )
                dest._remember_keywords(conn, flagset.decode(flags_text))
                if not fulltext.copy(conn, (self.id, uid), (dest.id, new_uid)):
                    fulltext.mark_incomplete(conn, dest.id)
            maildir.fsync_dir(dest.path / "cur")
            if move and moved:
                self.forget(conn, moved, self.bump(conn))
        if not move and mapping:
            watch.size_changed(self.place.mailbox_path, index)
        return mapping

    def claim_recent(self, upto: int | None = None) -> frozenset[int]:
        """UIDs new since the last claim (IMAP ``\\Recent`` for the one session that sees them first).

        With ``upto`` only UIDs up to it are claimed (a session claims what it is about to
        be told of, so a later message stays recent for whoever sees it first). Also moves
        files from ``new/`` to ``cur/`` as Dovecot does once a reader saw them.
        """
        index = self.place.index
        if not self._anything_to_claim(index.conn):
            return frozenset()  # the common warm SELECT: no write transaction at all
        with index.write() as conn, self._tracking(conn):
            first, uidnext = conn.execute(
                "SELECT first_recent, uidnext FROM folders WHERE id = ?", (self.id,)).fetchone()  # fmt: skip
            last = uidnext - 1 if upto is None else min(upto, uidnext - 1)
            rows = conn.execute(
                "SELECT uid FROM messages WHERE folder_id = ? AND uid >= ? AND uid <= ?", (self.id, first, last))
            recent = [r[0] for r in rows]
            if last >= first:
                conn.execute("UPDATE folders SET first_recent = ? WHERE id = ?", (last + 1, self.id))
            updates = []
            for uid, uniq, fname, flags_text in conn.execute(
                "SELECT uid, uniq, fname, flags FROM messages INDEXED BY messages_new"
                " WHERE folder_id = ? AND subdir = 'new'",
                (self.id,),
            ).fetchall():
                target = maildir.file_name(uniq, flagset.decode(flags_text))
                try:
                    os.rename(self.path / "new" / fname, self.path / "cur" / target)
                except FileNotFoundError:
                    continue
                updates.append((target, self.id, uid))
            conn.executemany("UPDATE messages SET subdir = 'cur', fname = ? WHERE folder_id = ? AND uid = ?", updates)
        return frozenset(recent)


    def _anything_to_claim(self, conn: sqlite3.Connection) -> bool:
        """True if a message arrived since the last claim or a file still lies in ``new/`` (two indexed reads)."""
        row = conn.execute("SELECT first_recent < uidnext FROM folders WHERE id = ?", (self.id,)).fetchone()
        if row is None or row[0]:
            return True  # a folder gone is reported by the write path
        return conn.execute(
            "SELECT 1 FROM messages INDEXED BY messages_new WHERE folder_id = ? AND subdir = 'new' LIMIT 1", (self.id,)
        ).fetchone() is not None


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileNotFoundError:
        raise
    except OSError:
        shutil.copyfile(source, target)
        with open(target, "rb+") as handle:
            os.fsync(handle.fileno())
