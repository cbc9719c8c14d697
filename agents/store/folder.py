"""One folder of a mailbox: its messages in the index and their files in the Maildir.

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
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import flags as flagset
from . import maildir, mime
from .errors import FolderNotFound, MessageGone, StoreError
from .index import Index, open_index
from .reconcile import reconcile
from .types import Changes, FlagResult, MessageMeta, MessageSummary

if TYPE_CHECKING:
    from .mailbox import MailboxStore

CORE = "uid, flags, size, internaldate, modseq, uniq"
SUMMARY = CORE + ", hdr_from, hdr_to, hdr_cc, hdr_subject, hdr_date, hdr_message_id, hdr_in_reply_to, has_attachments"
HEADER_FIELDS = {"from": "hdr_from", "to": "hdr_to", "cc": "hdr_cc", "subject": "hdr_subject",
                 "message-id": "hdr_message_id", "in-reply-to": "hdr_in_reply_to"}  # fmt: skip
SORT_COLUMNS = {
    "uid": "uid", "arrival": "uid", "date": "coalesce(hdr_date, internaldate)", "size": "size",
    "from": "lower(hdr_from)", "to": "lower(hdr_to)", "subject": "lower(hdr_subject)",
}  # fmt: skip
LISTINGS_KEPT = 8  # folders whose full listing this process keeps (about 20 MB per 100k messages)
_listings: OrderedDict[tuple[str, int, int], tuple[int, list[MessageMeta]]] = OrderedDict()
_listing_lock = threading.Lock()
FLAG_MODES = {"set": "set", "replace": "set", "add": "add", "+": "add", "remove": "remove", "-": "remove"}


def _meta(row: tuple) -> MessageMeta:
    return MessageMeta(row[0], flagset.decode(row[1]), row[2], datetime.fromtimestamp(row[3], UTC), row[4], row[5])


def _summary(row: tuple) -> MessageSummary:
    date = datetime.fromtimestamp(row[10], UTC) if row[10] is not None else None
    return MessageSummary(_meta(row), row[6], row[7], row[8], row[9], date, row[11], row[12], bool(row[13]))


def _uid_list(uids: Iterable[int]) -> str:
    return json.dumps(sorted({int(u) for u in uids}))


class Folder:
    """A selected folder. Counters are a snapshot taken at open and at each ``refresh()``."""

    def __init__(self, mailbox: MailboxStore, folder_id: int, name: str, dirname: str) -> None:
        self.mailbox = mailbox
        self.id = folder_id
        self.name = name
        self.path = mailbox.path / dirname if dirname else mailbox.path
        self._row: sqlite3.Row | tuple = ()
        self.refresh()

    def __repr__(self) -> str:
        return f"<Folder {self.mailbox.address} {self.name!r}>"

    @property
    def _index(self) -> Index:
        return open_index(self.mailbox.index_path)

    # --- snapshot ------------------------------------------------------------------------

    def refresh(self) -> int:
        """Catch up with other processes and with the disk; returns HIGHESTMODSEQ.

        Costs two ``stat`` calls and one one-row query unless the Maildir changed
        behind the store's back, in which case the folder is rescanned.
        """
        mtimes = maildir.dir_mtimes(self.path)
        row = self._load()
        if mtimes != (row[7], row[8]):
            self.rescan(force=False)
            row = self._load()
        self._row = row
        return int(row[2])

    def _load(self) -> tuple:
        row = self._index.conn.execute(
            "SELECT uidvalidity, uidnext, highestmodseq, exists_count, unseen_count, bytes, first_recent,"
            " new_mtime, cur_mtime, name, dirname FROM folders WHERE id = ?",
            (self.id,),
        ).fetchone()
        if row is None:
            raise FolderNotFound(f"folder {self.name!r} was deleted")
        self._follow(row[9], row[10])
        return row

    def _follow(self, name: str, dirname: str) -> None:
        """Another session renamed this folder: keep working on it under its new name."""
        if name != self.name:
            self.name = name
            self.path = self.mailbox.path / dirname if dirname else self.mailbox.path

    @property
    def uidvalidity(self) -> int:
        return int(self._row[0])

    @property
    def uidnext(self) -> int:
        return int(self._row[1])

    @property
    def highestmodseq(self) -> int:
        return int(self._row[2])

    @property
    def exists(self) -> int:
        return int(self._row[3])

    @property
    def unseen(self) -> int:
        return int(self._row[4])

    @property
    def size(self) -> int:
        """Bytes of all messages in the folder."""
        return int(self._row[5])

    @property
    def recent(self) -> int:
        """Messages not yet claimed by any session (see ``claim_recent``)."""
        return int(
            self._index.conn.execute(
                "SELECT count(*) FROM messages WHERE folder_id = ? AND uid >= ?", (self.id, self._row[6])
            ).fetchone()[0]
        )

    def count(self) -> int:
        """Messages in the folder now (not the snapshot)."""
        return int(self._index.conn.execute("SELECT exists_count FROM folders WHERE id = ?", (self.id,)).fetchone()[0])

    def poll(self) -> int:
        """Current HIGHESTMODSEQ with one tiny query and no rescan; for IDLE loops between refreshes."""
        row = self._index.conn.execute("SELECT highestmodseq FROM folders WHERE id = ?", (self.id,)).fetchone()
        if row is None:
            raise FolderNotFound(f"folder {self.name!r} was deleted")
        return int(row[0])

    def first_unseen(self) -> int | None:
        """UID of the first message without ``\\Seen``, or None."""
        row = self._index.conn.execute(
            "SELECT min(uid) FROM messages WHERE folder_id = ? AND seen = 0", (self.id,)
        ).fetchone()
        return row[0]

    def keywords(self) -> list[str]:
        """Keywords ever used in this folder (for the FLAGS response)."""
        rows = self._index.conn.execute("SELECT name FROM keywords WHERE folder_id = ? ORDER BY name", (self.id,))
        return [r[0] for r in rows]

    # --- reading -------------------------------------------------------------------------

    def messages(self) -> list[MessageMeta]:
        """All messages in UID order, from the index only (no file is opened).

        The last result per folder is kept in this process and brought up to date
        with ``changes_since``, so a session re-selecting a 100k folder pays only
        for what changed since any session of this process last listed it.
        """
        key = (str(self.mailbox.index_path), self.id, self.uidvalidity)
        with self._index.snapshot() as conn:
            current = conn.execute("SELECT highestmodseq FROM folders WHERE id = ?", (self.id,)).fetchone()
            if current is None:
                raise FolderNotFound(f"folder {self.name!r} was deleted")
            with _listing_lock:
                cached = _listings.get(key)
            result = self._updated(conn, cached, int(current[0])) if cached else None
            if result is None:
                result = self._all_metas(conn)
        with _listing_lock:
            _listings[key] = (int(current[0]), result)
            _listings.move_to_end(key)
            while len(_listings) > LISTINGS_KEPT:
                _listings.popitem(last=False)
        return list(result)

    def _updated(
        self, conn: sqlite3.Connection, cached: tuple[int, list[MessageMeta]], current: int
    ) -> list[MessageMeta] | None:
        """The cached listing with the changes since its MODSEQ applied; None if a full read is simpler."""
        since, metas = cached
        if since == current:
            return metas
        if since > current:
            return None
        changed = {
            r[0]: _meta(r)
            for r in conn.execute(
                f"SELECT {CORE} FROM messages INDEXED BY messages_modseq WHERE folder_id = ? AND modseq > ?",
                (self.id, since),
            )
        }
        if len(changed) > max(1000, len(metas) // 4):
            return None
        gone = {
            r[0] for r in conn.execute("SELECT uid FROM expunged WHERE folder_id = ? AND modseq > ?", (self.id, since))
        }
        out = [changed.pop(m.uid, m) for m in metas if m.uid not in gone]
        added = sorted(changed.values())
        if added and out and added[0].uid <= out[-1].uid:  # not an append at the end: cannot happen, stay safe
            return None
        return out + added

    def _all_metas(self, conn: sqlite3.Connection) -> list[MessageMeta]:
        rows = conn.execute(f"SELECT {CORE} FROM messages WHERE folder_id = ? ORDER BY uid", (self.id,))
        # The hot path of SELECT on a 100k folder: no function call per row, one frozenset per distinct flag text.
        known: dict[str, frozenset[str]] = {}
        make, stamp, utc, decode = tuple.__new__, datetime.fromtimestamp, UTC, flagset.decode
        out = []
        for uid, text, size, when, modseq, key in rows:
            found = known.get(text)
            if found is None:
                found = known[text] = decode(text)
            out.append(make(MessageMeta, (uid, found, size, stamp(when, utc), modseq, key)))
        return out

    def uids(self) -> list[int]:
        rows = self._index.conn.execute("SELECT uid FROM messages WHERE folder_id = ? ORDER BY uid", (self.id,))
        return [r[0] for r in rows]

    def meta(self, uid: int) -> MessageMeta:
        """One message's metadata; raises MessageGone."""
        row = self._index.conn.execute(
            f"SELECT {CORE} FROM messages WHERE folder_id = ? AND uid = ?", (self.id, uid)
        ).fetchone()
        if row is None:
            raise MessageGone(f"no message with UID {uid} in {self.name!r}")
        return _meta(row)

    def page(
        self, offset: int = 0, limit: int = 50, newest_first: bool = True, sort: str = "uid"
    ) -> list[MessageSummary]:
        """A page of the message list, from the index only.

        ``sort="uid"`` (arrival order) walks the primary key and never scans the
        folder. ``date`` (Date header, else INTERNALDATE), ``from``, ``subject``,
        ``size`` and ``to`` sort in SQLite (one pass over the folder's index rows,
        no file opened); ties are broken by UID. ``newest_first`` reverses the order.
        """
        column = SORT_COLUMNS.get(sort)
        if column is None:
            raise StoreError(f"cannot sort by {sort!r}")
        order = "DESC" if newest_first else "ASC"
        keys = f"uid {order}" if column == "uid" else f"{column} {order}, uid {order}"
        rows = self._index.conn.execute(
            f"SELECT {SUMMARY} FROM messages WHERE folder_id = ? ORDER BY {keys} LIMIT ? OFFSET ?",
            (self.id, max(0, int(limit)), max(0, int(offset))),
        )
        return [_summary(r) for r in rows]

    def summaries(self, uids: Iterable[int]) -> list[MessageSummary]:
        """Cached headers of the given UIDs (missing ones are left out), in UID order."""
        rows = self._index.conn.execute(
            f"SELECT {SUMMARY} FROM messages WHERE folder_id = ? AND uid IN (SELECT value FROM json_each(?))"
            " ORDER BY uid",
            (self.id, _uid_list(uids)),
        )
        return [_summary(r) for r in rows]

    def search_header(self, field: str, text: str) -> list[int]:
        """UIDs whose cached ``field`` (from, to, cc, subject, message-id, in-reply-to) contains ``text``.

        Case-insensitive for ASCII letters, on decoded header text; no file is opened.
        """
        column = HEADER_FIELDS.get(field.lower())
        if column is None:
            raise StoreError(f"header {field!r} is not cached")
        rows = self._index.conn.execute(
            f"SELECT uid FROM messages WHERE folder_id = ? AND instr(lower({column}), lower(?)) > 0 ORDER BY uid",
            (self.id, text),
        )
        return [r[0] for r in rows]

    def _locate(self, uid: int) -> Path:
        row = self._index.conn.execute(
            "SELECT subdir, fname FROM messages WHERE folder_id = ? AND uid = ?", (self.id, uid)
        ).fetchone()
        if row is None:
            raise MessageGone(f"no message with UID {uid} in {self.name!r}")
        return self.path / row[0] / row[1]

    def read(self, uid: int) -> bytes:
        """The message as stored (CRLF line ends; ``len`` equals ``meta.size``). Raises MessageGone."""
        for _attempt in range(3):  # another process may rename the file (flags) between lookup and open
            path = self._locate(uid)
            try:
                return maildir.to_crlf(path.read_bytes())
            except FileNotFoundError:
                continue
        raise MessageGone(f"the file of UID {uid} in {self.name!r} is missing")

    def _mime(self, uid: int, column: str) -> Any:
        row = self._index.conn.execute(
            f"SELECT {column} FROM mime WHERE folder_id = ? AND uid = ?", (self.id, uid)
        ).fetchone()
        if row is None:
            raise MessageGone(f"no message with UID {uid} in {self.name!r}")
        return json.loads(row[0])

    def envelope(self, uid: int) -> Any:
        """Cached IMAP ENVELOPE (JSON shape in docs/internals.md)."""
        return self._mime(uid, "envelope")

    def bodystructure(self, uid: int) -> Any:
        """Cached IMAP BODYSTRUCTURE (JSON shape in docs/internals.md)."""
        return self._mime(uid, "bodystructure")

    def changes_since(self, modseq: int) -> Changes:
        """Messages changed or added, and UIDs expunged, with a MODSEQ above ``modseq``."""
        index = self._index
        with index.snapshot() as conn:
            # No ORDER BY: it would make SQLite walk the whole folder in UID order instead of the MODSEQ index.
            changed = conn.execute(
                f"SELECT {CORE} FROM messages INDEXED BY messages_modseq WHERE folder_id = ? AND modseq > ?",
                (self.id, modseq),
            ).fetchall()
            gone = conn.execute(
                "SELECT uid FROM expunged WHERE folder_id = ? AND modseq > ?", (self.id, modseq)
            ).fetchall()
        return Changes(sorted(_meta(r) for r in changed), sorted({r[0] for r in gone}))

    # --- writing -------------------------------------------------------------------------

    @contextmanager
    def _tracking(self, conn: sqlite3.Connection) -> Iterator[None]:
        """Around our own file operations: keep the recorded mtimes current unless someone else changed a dir."""
        recorded = conn.execute(
            "SELECT new_mtime, cur_mtime, name, dirname FROM folders WHERE id = ?", (self.id,)
        ).fetchone()
        if recorded is None:
            raise FolderNotFound(f"folder {self.name!r} was deleted")
        self._follow(recorded[2], recorded[3])
        before = maildir.dir_mtimes(self.path)
        yield
        after = maildir.dir_mtimes(self.path)
        new_mtime = after[0] if before[0] == recorded[0] else recorded[0]
        cur_mtime = after[1] if before[1] == recorded[1] else recorded[1]
        conn.execute("UPDATE folders SET new_mtime = ?, cur_mtime = ? WHERE id = ?", (new_mtime, cur_mtime, self.id))

    def _bump(self, conn: sqlite3.Connection) -> int:
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

    def _insert(
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
    ) -> int:
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
        return uid

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
        self._load()  # follow a rename by another session before writing into the folder's tmp/
        tmp = maildir.write_tmp(self.path, uniq, data)
        return self._commit_file(tmp, uniq, data, wanted, internaldate, summary)

    def _commit_file(
        self,
        tmp: Path,
        uniq: str,
        data: bytes,
        wanted: frozenset[str],
        internaldate: datetime | None,
        summary: mime.Summary,
        after_insert: Any = None,
    ) -> int:
        """Rename ``tmp`` into ``new/`` (no flags) or ``cur/``, fsync the directory, and index it."""
        when = int((internaldate or datetime.now(UTC)).timestamp())
        os.utime(tmp, (when, when))  # Dovecot takes INTERNALDATE from the file's mtime
        subdir = "cur" if wanted else "new"
        fname = maildir.file_name(uniq, wanted) if wanted else uniq
        index = self._index
        with index.write(durable=True) as conn, self._tracking(conn):
            os.rename(tmp, self.path / subdir / fname)
            maildir.fsync_dir(self.path / subdir)
            uid = self._insert(conn, uniq=uniq, subdir=subdir, fname=fname, flags=wanted, size=len(data),
                               internaldate=when, summary=summary, modseq=self._bump(conn))  # fmt: skip
            if after_insert is not None:
                after_insert(conn, uid)
        return uid

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
        index = self._index
        with index.write() as conn, self._tracking(conn):
            rows = conn.execute(
                "SELECT uid, flags, size, internaldate, modseq, uniq, subdir, fname FROM messages"
                " WHERE folder_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
                (self.id, _uid_list(uids)),
            ).fetchall()
            modseq = None
            updates = []
            for row in rows:
                uid, old = row[0], flagset.decode(row[1])
                if unchangedsince is not None and row[4] > unchangedsince:
                    result.modified.append(uid)
                    continue
                new = given if how == "set" else (old | given if how == "add" else old - given)
                if new == old:
                    result.append(_meta(row))
                    continue
                if modseq is None:
                    modseq = self._bump(conn)
                subdir, fname = row[6], row[7]
                if subdir == "new" or maildir.letters(new) != maildir.letters(old):
                    target = maildir.file_name(row[5], new)
                    try:
                        os.rename(self.path / subdir / fname, self.path / "cur" / target)
                        subdir, fname = "cur", target
                    except FileNotFoundError:
                        pass  # removed behind our back: the next rescan drops it
                updates.append((flagset.encode(new), int("\\Seen" in new), modseq, subdir, fname, self.id, uid))
                result.append(MessageMeta(uid, new, row[2], datetime.fromtimestamp(row[3], UTC), modseq, row[5]))
            conn.executemany(
                "UPDATE messages SET flags = ?, seen = ?, modseq = ?, subdir = ?, fname = ?"
                " WHERE folder_id = ? AND uid = ?",
                updates,
            )
            self._remember_keywords(conn, given)
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
            params.append(_uid_list(uids))
        if only_deleted:
            query += " AND instr(flags, '\\Deleted') > 0"
        index = self._index
        with index.write() as conn, self._tracking(conn):
            rows = conn.execute(query + " ORDER BY uid", params).fetchall()
            if not rows:
                return []
            modseq = self._bump(conn)
            for _uid, subdir, fname in rows:
                try:
                    os.unlink(self.path / subdir / fname)
                except FileNotFoundError:
                    pass
            self._forget(conn, [r[0] for r in rows], modseq)
        return [r[0] for r in rows]

    def _forget(self, conn: sqlite3.Connection, uids: list[int], modseq: int) -> None:
        conn.executemany("DELETE FROM messages WHERE folder_id = ? AND uid = ?", [(self.id, u) for u in uids])
        conn.executemany("INSERT INTO expunged VALUES (?, ?, ?)", [(self.id, u, modseq) for u in uids])

    def _resolve(self, dest: Folder | str) -> Folder:
        if isinstance(dest, Folder):
            if dest.mailbox.path != self.mailbox.path:
                raise StoreError("copy and move work within one mailbox")
            return dest
        return self.mailbox.folder(dest)

    def copy(self, uids: Iterable[int], dest: Folder | str) -> dict[int, int]:
        """Copy messages into ``dest`` (hard links, like Dovecot); returns {source UID: new UID}."""
        return self._transfer(uids, self._resolve(dest), move=False)

    def move(self, uids: Iterable[int], dest: Folder | str) -> dict[int, int]:
        """Move messages into ``dest`` atomically (RFC 6851); returns {source UID: new UID}."""
        return self._transfer(uids, self._resolve(dest), move=True)

    def _transfer(self, uids: Iterable[int], dest: Folder, *, move: bool) -> dict[int, int]:
        wanted = _uid_list(uids)
        mapping: dict[int, int] = {}
        index = self._index
        with index.write(durable=True) as conn, self._tracking(conn), dest._tracking(conn):
            rows = conn.execute(
                "SELECT uid, uniq, subdir, fname, flags, size FROM messages"
                " WHERE folder_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
                (self.id, wanted),
            ).fetchall()
            if not rows:
                return {}
            dest_modseq = dest._bump(conn)
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
                    "INSERT INTO mime SELECT ?, ?, envelope, bodystructure FROM mime WHERE folder_id = ? AND uid = ?",
                    (dest.id, new_uid, self.id, uid),
                )
                dest._remember_keywords(conn, flagset.decode(flags_text))
            maildir.fsync_dir(dest.path / "cur")
            if move and moved:
                self._forget(conn, moved, self._bump(conn))
        return mapping

    def claim_recent(self) -> frozenset[int]:
        """UIDs new since the last claim (IMAP ``\\Recent`` for the one session that SELECTs first).

        Also moves files from ``new/`` to ``cur/`` as Dovecot does once a reader saw them.
        """
        index = self._index
        with index.write() as conn, self._tracking(conn):
            first = conn.execute("SELECT first_recent FROM folders WHERE id = ?", (self.id,)).fetchone()[0]
            recent = [r[0] for r in conn.execute(
                "SELECT uid FROM messages WHERE folder_id = ? AND uid >= ?", (self.id, first))]  # fmt: skip
            conn.execute("UPDATE folders SET first_recent = uidnext WHERE id = ?", (self.id,))
            updates = []
            for uid, uniq, fname, flags_text in conn.execute(
                "SELECT uid, uniq, fname, flags FROM messages WHERE folder_id = ? AND subdir = 'new'", (self.id,)
            ).fetchall():
                target = maildir.file_name(uniq, flagset.decode(flags_text))
                try:
                    os.rename(self.path / "new" / fname, self.path / "cur" / target)
                except FileNotFoundError:
                    continue
                updates.append((target, self.id, uid))
            conn.executemany("UPDATE messages SET subdir = 'cur', fname = ? WHERE folder_id = ? AND uid = ?", updates)
        self._row = self._load()
        return frozenset(recent)

    # --- reconcile with the disk ---------------------------------------------------------

    def rescan(self, force: bool = True) -> None:
        """Bring the index in line with the files: adopt new ones, drop missing ones, take flags from names.

        With ``force=False`` nothing is done if another process rescanned meanwhile.
        """
        reconcile(self, force=force)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileNotFoundError:
        raise
    except OSError:
        shutil.copyfile(source, target)
        with open(target, "rb+") as handle:
            os.fsync(handle.fileno())
