"""One folder of a mailbox: its snapshot counters and every read, from the index.

Changes (append, flags, expunge, copy/move, \\Recent) are made by the folder's
:class:`~agents.store.writes.FolderWriter` (``folder.writer``), to which the
write methods here forward; repairs from the disk are in ``reconcile.py``.
"""

from __future__ import annotations

import bisect
import json
import os
import sqlite3
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from . import flags as flagset
from . import fulltext, maildir, mime, wirememory
from .errors import MessageGone, StoreError
from .filereader import FileReader
from .index import Index
from .place import FolderPlace, meta_from_row, uid_list
from .reconcile import reconcile
from .types import Changes, FlagResult, Listing, MessageMeta, MessageSummary, SortFields
from .writes import FolderWriter

CORE = "uid, flags, size, internaldate, modseq, uniq"
SUMMARY = CORE + ", hdr_from, hdr_to, hdr_cc, hdr_subject, hdr_date, hdr_message_id, hdr_in_reply_to, has_attachments"
HEADER_FIELDS = {"from": "hdr_from", "to": "hdr_to", "cc": "hdr_cc", "subject": "hdr_subject",
                 "message-id": "hdr_message_id", "in-reply-to": "hdr_in_reply_to"}  # fmt: skip
SORT_COLUMNS = {
    "uid": "uid", "arrival": "uid", "date": "coalesce(hdr_date, internaldate)", "size": "size",
    "from": "lower(hdr_from)", "to": "lower(hdr_to)", "subject": "lower(hdr_subject)",
}  # fmt: skip
# The last listings this process made, most recent last, kept within a budget of messages (about 20 MB per
# 100k): eight folders of 100,000, or thousands of small ones (many users of small folders, as
# bench/imapload.py runs them, would otherwise read each folder whole again after every change).
LISTING_MESSAGES_KEPT = 800_000
LISTINGS_KEPT = 4096  # and at most this many folders
_listings: OrderedDict[wirememory.FolderKey, Listing] = OrderedDict()
_kept_messages = 0  # len(metas) summed over _listings
# Listings that sessions still hold (a selected folder's view), beyond the LISTINGS_KEPT above: they cost
# no memory of their own, and without them a process serving more users than LISTINGS_KEPT read every
# folder whole again at each SELECT and each change (many users of small folders, bench/imapload.py).
_held: weakref.WeakValueDictionary[wirememory.FolderKey, Listing] = weakref.WeakValueDictionary()
_listing_lock = threading.Lock()


def _keep(key: wirememory.FolderKey, listing: Listing) -> None:
    """Keep ``listing`` as the last of its folder, dropping the least recently made past the budget."""
    global _kept_messages
    with _listing_lock:
        old = _listings.pop(key, None)
        if old is not None:
            _kept_messages -= len(old.metas)
        _listings[key] = _held[key] = listing
        _kept_messages += len(listing.metas)
        while len(_listings) > 1 and (len(_listings) > LISTINGS_KEPT or _kept_messages > LISTING_MESSAGES_KEPT):
            _key, dropped = _listings.popitem(last=False)
            _kept_messages -= len(dropped.metas)


def forget_listings() -> None:
    """Drop the listings this process keeps (tests; a listing a session holds is still found by weak reference)."""
    global _kept_messages
    with _listing_lock:
        _listings.clear()
        _kept_messages = 0


def _summary(row: tuple) -> MessageSummary:
    date = datetime.fromtimestamp(row[10], UTC) if row[10] is not None else None
    return MessageSummary(meta_from_row(row), row[6], row[7], row[8], row[9], date, row[11], row[12], bool(row[13]))


def _wire_version(version: int) -> int:
    """The caller's serialiser version and the summary's shape in one number: either change drops the cache."""
    return version * 1000 + mime.STRUCTURE_VERSION


class Mailbox(Protocol):
    """What a folder needs from its mailbox (``agents.store.mailbox.MailboxStore``; named here so that
    the folder module does not import the mailbox module, which imports it)."""

    @property
    def address(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def index_path(self) -> Path: ...
    def folder(self, name: str) -> Folder: ...


class Folder:
    """A selected folder. Counters are a snapshot taken at open and at each ``refresh()``.

    Reads are methods of the folder; changes are made by ``self.writer`` (a
    :class:`FolderWriter` sharing this folder's :class:`FolderPlace`), and the
    folder's write methods below forward to it.
    """

    def __init__(self, mailbox: Mailbox, folder_id: int, name: str, dirname: str) -> None:
        self.mailbox = mailbox
        self.place = FolderPlace(mailbox.path, mailbox.index_path, folder_id, name, dirname)
        self.writer = FolderWriter(self.place)
        self._row: tuple = ()
        self._stamp: tuple | None = None  # (index connection, its change counters, directory mtimes) of ``_row``
        self.refresh()

    @property
    def id(self) -> int:
        return self.place.id

    @property
    def name(self) -> str:
        """The folder's name now (it follows a rename by another session)."""
        return self.place.name

    @property
    def path(self) -> Path:
        return self.place.path

    @property
    def _index(self) -> Index:
        return self.place.index

    def __repr__(self) -> str:
        return f"<Folder {self.mailbox.address} {self.name!r}>"

    # --- snapshot ------------------------------------------------------------------------

    def refresh(self) -> int:
        """Catch up with other processes and with the disk; returns HIGHESTMODSEQ.

        Costs two ``stat`` calls and a look at the index's change counter when nothing
        changed since the last refresh (every IMAP command refreshes its folder), one
        one-row query when the index changed, and a rescan if the Maildir changed
        behind the store's back.
        """
        mtimes = maildir.stat_mtimes(self.place.subdirs)
        index = self._index
        stamp: tuple | None = (index, index.version(), mtimes)  # taken before the read: a later change is seen
        if stamp == self._stamp:
            return int(self._row[2])
        row = self._load()
        if mtimes != (row[7], row[8]):
            self.rescan(force=False)
            row = self._load()
            stamp = None
        self._row = row
        self._stamp = stamp
        return int(row[2])

    def _load(self) -> tuple:
        row = self._index.conn.execute(
            "SELECT uidvalidity, uidnext, highestmodseq, exists_count, unseen_count, bytes, first_recent,"
            " new_mtime, cur_mtime, name, dirname FROM folders WHERE id = ?",
            (self.id,),
        ).fetchone()
        if row is None:
            raise self.place.gone()
        self.place.follow(row[9], row[10])
        return row

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

    @property
    def first_recent(self) -> int:
        """The lowest UID not yet claimed as ``\\Recent`` (snapshot)."""
        return int(self._row[6])

    def count(self) -> int:
        """Messages in the folder now (not the snapshot)."""
        return int(self._index.conn.execute("SELECT exists_count FROM folders WHERE id = ?", (self.id,)).fetchone()[0])

    def poll(self) -> int:
        """Current HIGHESTMODSEQ with one tiny query and no rescan; for IDLE loops between refreshes."""
        row = self._index.conn.execute("SELECT highestmodseq FROM folders WHERE id = ?", (self.id,)).fetchone()
        if row is None:
            raise self.place.gone()
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
        """All messages in UID order, from the index only (no file is opened); a new list each call."""
        return list(self.listing().metas)

    def listing(self, modseq: int | None = None) -> Listing:
        """All messages in UID order, as a listing shared by the sessions of this process: do not change it.

        The last listing per folder is kept in this process and brought up to date
        with ``changes_since``, so re-selecting a 100k folder costs what changed since
        any session of this process last listed it, and no copy: sessions share it
        until one of them needs a view of its own (copy on write). ``modseq``: the
        HIGHESTMODSEQ a ``refresh`` just returned; a kept listing of that MODSEQ is
        returned without a look at the index.
        """
        if modseq is not None:
            key = self._cache_key()
            with _listing_lock:
                cached = _listings.get(key) or _held.get(key)
            if cached is not None and cached.modseq == modseq:
                _keep(key, cached)
                return cached
        with self._index.snapshot() as conn:
            return self._listing(conn)

    def catch_up(self, since: int) -> tuple[Listing, Changes]:
        """The current listing and the changes after MODSEQ ``since`` that lead to it, seen in one snapshot."""
        with self._index.snapshot() as conn:
            seen: dict[int, Changes] = {}
            listing = self._listing(conn, seen)
            if since == listing.modseq:
                return listing, Changes([], [])
            found = seen.get(since)  # usually: the session held the listing this one was brought up from
            return listing, found if found is not None else self._changes(conn, since)

    def _listing(self, conn: sqlite3.Connection, seen: dict[int, Changes] | None = None) -> Listing:
        """The folder's listing in this snapshot; ``seen`` gets the changes read on the way (by their start)."""
        key = self._cache_key()
        current = conn.execute("SELECT highestmodseq FROM folders WHERE id = ?", (self.id,)).fetchone()
        if current is None:
            raise self.place.gone()
        modseq = int(current[0])
        with _listing_lock:
            cached = _listings.get(key) or _held.get(key)
        if cached is not None and cached.modseq == modseq:
            result = cached
        else:
            updated = self._updated(conn, cached, modseq, seen) if cached else None
            if updated is None:
                metas = self._all_metas(conn)
                updated = Listing(modseq, metas, [m[0] for m in metas])
            result = updated
        _keep(key, result)
        return result

    def _updated(self, conn: sqlite3.Connection, cached: Listing, current: int,
                 seen: dict[int, Changes] | None = None) -> Listing | None:
        """The cached listing with the changes since its MODSEQ applied; None if a full read is simpler.

        O(changes) Python work: the lists are copied whole (a C-level copy) and only the
        changed, added and expunged entries are touched, found by binary search.
        """
        if cached.modseq > current:
            return None
        changes = self._changes(conn, cached.modseq)
        if seen is not None:
            seen[cached.modseq] = changes
        if len(changes.changed) + len(changes.expunged) > max(1000, len(cached.metas) // 4):
            return None
        metas, uids = list(cached.metas), list(cached.uids)
        for uid in reversed(changes.expunged):
            i = bisect.bisect_left(uids, uid)
            if i < len(uids) and uids[i] == uid:
                del uids[i], metas[i]
        for meta in changes.changed:
            i = bisect.bisect_left(uids, meta.uid)
            if i < len(uids) and uids[i] == meta.uid:
                metas[i] = meta
            elif i == len(uids):
                uids.append(meta.uid)
                metas.append(meta)
            else:  # a new UID below the last one: cannot happen (UIDs grow), stay safe
                return None
        return Listing(current, metas, uids)

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
        return meta_from_row(row)

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
            (self.id, uid_list(uids)),
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

    def sort_fields(self) -> list[SortFields]:
        """What IMAP SORT and THREAD compare, for every message, from the index only (no file opened).

        Subject and Date as the list summaries keep them (decoded; Date in UTC), and the first
        address of From, To and Cc from the cached ENVELOPE as ``(name, adl, mailbox, host)``
        (the name as written, RFC 2047 words not decoded) or None. In UID order.
        """
        rows = self._index.conn.execute(
            "SELECT m.uid, m.hdr_subject, m.hdr_date, m.hdr_message_id, m.hdr_in_reply_to,"
            " json_extract(x.envelope, '$[2][0]'), json_extract(x.envelope, '$[5][0]'),"
            " json_extract(x.envelope, '$[6][0]'), json_extract(x.bodystructure, '$.v')"
            " FROM messages m LEFT JOIN mime x ON x.folder_id = m.folder_id AND x.uid = m.uid"
            " WHERE m.folder_id = ? ORDER BY m.uid",
            (self.id,),
        ).fetchall()
        out = []
        for uid, subject, date, message_id, in_reply_to, from_, to, cc, version in rows:
            if version != mime.STRUCTURE_VERSION:  # summarised by older code: take the current shape
                try:
                    env = self.envelope(uid)
                except MessageGone:
                    continue
                from_, to, cc = (json.dumps(env[i][0]) if env[i] else None for i in (2, 5, 6))
            out.append(SortFields(uid, subject, date, message_id, in_reply_to,
                                  *(json.loads(a) if a else None for a in (from_, to, cc))))
        return out

    def header(self, uid: int, limit: int = 256 * 1024) -> bytes:
        """The header of a message (up to and with the empty line), reading at most ``limit`` bytes of
        the file (CRLF line ends). Raises MessageGone."""
        for _attempt in range(3):  # another process may rename the file (flags) between lookup and open
            path = self._locate(uid)
            try:
                with open(path, "rb") as handle:
                    data = b""
                    while len(data) < limit:
                        chunk = handle.read(16384)
                        data += chunk
                        end = data.find(b"\n\n")
                        end_crlf = data.find(b"\r\n\r\n")
                        found = [e for e in (end, end_crlf) if e >= 0]
                        if found or not chunk:
                            if found:
                                data = data[: min(found) + (2 if min(found) == end else 4)]
                            return maildir.to_crlf(data)
                    return maildir.to_crlf(data[:limit])
            except FileNotFoundError:
                continue
        raise MessageGone(f"the file of UID {uid} in {self.name!r} is missing")

    def search_text(self, text: str, *, body_only: bool = False) -> list[int]:
        """UIDs whose header or body text (``body_only``: body) contains ``text``, case-insensitively.

        From the full-text index (``agents.store.fulltext``): decoded text parts, HTML as text.
        """
        return fulltext.search(self, text, body_only=body_only)

    def index_text(self, limit: int | None = None) -> list[int]:
        """Put messages stored before the full-text index existed into it; returns the UIDs left for later."""
        return fulltext.catch_up(self, limit)

    def reindex_text(self) -> int:
        """Rebuild this folder's full-text rows from the message files; returns how many are indexed."""
        return fulltext.rebuild(self)

    def _locate(self, uid: int) -> Path:
        row = self._index.conn.execute(
            "SELECT subdir, fname FROM messages WHERE folder_id = ? AND uid = ?", (self.id, uid)
        ).fetchone()
        if row is None:
            raise MessageGone(f"no message with UID {uid} in {self.name!r}")
        return self.path / row[0] / row[1]

    def file_names(self) -> dict[int, str]:
        """{uid: file name below the folder's directory (``cur/...``)} for every message, in one query.

        For a reader going through many messages (POP3) with :meth:`read_file`: names
        change when another session changes flags, so it is a hint, not a promise.
        """
        rows = self._index.conn.execute("SELECT uid, subdir || '/' || fname FROM messages WHERE folder_id = ?",
                                        (self.id,))  # fmt: skip
        return dict(rows)  # built in SQLite and C: a POP3 login lists 20,000 of these

    def file_reader(self) -> FileReader:
        """A :class:`~agents.store.filereader.FileReader` for this folder's files (names from :meth:`file_names`)."""
        return FileReader(str(self.place.path))

    def read_file(self, uid: int, name: str | None, size: int | None = None) -> bytes:
        """Like :meth:`read`, trying the file ``name`` (from :meth:`file_names`) first, without an index query.

        ``size`` (the index's, with CRLF line ends): a file of exactly that length has no bare LF
        (each would make the CRLF form one octet longer), so it is returned as read, without
        the two counts over the whole message that telling it otherwise costs.
        """
        if name is not None:
            try:
                with open(os.path.join(self.place.path, name), "rb") as handle:
                    raw = handle.read()
                return raw if len(raw) == size else maildir.to_crlf(raw)
            except FileNotFoundError:
                pass  # renamed (flags) or expunged since: ask the index
        return self.read(uid)

    def read(self, uid: int) -> bytes:
        """The message as stored (CRLF line ends; ``len`` equals ``meta.size``). Raises MessageGone."""
        for _attempt in range(3):  # another process may rename the file (flags) between lookup and open
            row = self._index.conn.execute(
                "SELECT subdir, fname, size FROM messages WHERE folder_id = ? AND uid = ?", (self.id, uid)
            ).fetchone()
            if row is None:
                raise MessageGone(f"no message with UID {uid} in {self.name!r}")
            try:
                with open(os.path.join(self.place.path, row[0], row[1]), "rb") as handle:  # no Path joins: per FETCH
                    raw = handle.read()
            except FileNotFoundError:
                continue
            return raw if len(raw) == row[2] else maildir.to_crlf(raw)  # the index's CRLF size: no bare LF
        raise MessageGone(f"the file of UID {uid} in {self.name!r} is missing")

    def _mime(self, uid: int, column: str) -> Any:
        row = self._index.conn.execute(
            f"SELECT {column}, json_extract(bodystructure, '$.v') FROM mime WHERE folder_id = ? AND uid = ?",
            (self.id, uid),
        ).fetchone()
        if row is None:
            raise MessageGone(f"no message with UID {uid} in {self.name!r}")
        if row[1] != mime.STRUCTURE_VERSION:  # summarised by older code: never serve the old shape
            summary = self._summarize_again(uid)
            return summary.envelope if column == "envelope" else summary.bodystructure
        return json.loads(row[0])

    def _summarize_again(self, uid: int) -> mime.Summary:
        """Parse the message file again and let the writer replace what the index caches about it."""
        summary = mime.summarize(self.read(uid))
        self.writer.replace_summary(uid, summary)
        return summary

    def wire(self, uids: list[int], version: int) -> dict[int, tuple[bytes, bytes, bytes]]:
        """Cached IMAP wire forms {uid: (ENVELOPE, BODYSTRUCTURE, BODY)} of those ``uids`` that have one.

        The IMAP server serialises them once from the cached summary and keeps them with
        :meth:`keep_wire`; ``version`` names its serialiser, and a row made by another
        version, or from a summary of another ``mime.STRUCTURE_VERSION``, is not returned.
        """
        if not uids:
            return {}
        key, combined = self._cache_key(), _wire_version(version)
        found, missing = wirememory.lookup(key, combined, uids)  # the newest messages: fetched again and again
        if missing:
            rows = self._index.conn.execute(
                "SELECT uid, envelope, bodystructure, body FROM mime_wire WHERE folder_id = ? AND version = ?"
                " AND uid IN (SELECT value FROM json_each(?))",
                (self.id, combined, uid_list(missing)),
            )
            read = {uid: (env, structure, body) for uid, env, structure, body in rows}
            wirememory.keep(key, combined, read.items())
            found.update(read)
        return found

    def keep_wire(self, version: int, rows: list[tuple[int, bytes, bytes, bytes]]) -> None:
        """Keep (uid, ENVELOPE, BODYSTRUCTURE, BODY) wire forms for :meth:`wire` (best effort: a cache)."""
        combined = _wire_version(version)
        if self.writer.keep_wire(combined, rows):  # in memory only what the index holds too
            wirememory.keep(self._cache_key(), combined, ((uid, (env, bs, body)) for uid, env, bs, body in rows))

    def _cache_key(self) -> wirememory.FolderKey:
        """What names this folder's contents for good in the process's caches (listings, wire forms).

        The index file's own random name too: a mailbox removed and made again at once may reuse
        the path, the file's inode, the folder id and even the UIDVALIDITY second.
        """
        index = self._index
        return str(self.mailbox.index_path), index.instance, self.id, self.uidvalidity

    def envelope(self, uid: int) -> Any:
        """Cached IMAP ENVELOPE (JSON shape in docs/internals.md)."""
        return self._mime(uid, "envelope")

    def bodystructure(self, uid: int) -> Any:
        """Cached IMAP BODYSTRUCTURE (JSON shape in docs/internals.md)."""
        return self._mime(uid, "bodystructure")

    def changes_since(self, modseq: int) -> Changes:
        """Messages changed or added, and UIDs expunged, with a MODSEQ above ``modseq``."""
        with self._index.snapshot() as conn:
            return self._changes(conn, modseq)

    def _changes(self, conn: sqlite3.Connection, modseq: int) -> Changes:
        # No ORDER BY: it would make SQLite walk the whole folder in UID order instead of the MODSEQ index.
        changed = conn.execute(
            f"SELECT {CORE} FROM messages INDEXED BY messages_modseq WHERE folder_id = ? AND modseq > ?",
            (self.id, modseq),
        ).fetchall()
        gone = conn.execute("SELECT uid FROM expunged WHERE folder_id = ? AND modseq > ?", (self.id, modseq)).fetchall()
        return Changes(sorted(meta_from_row(r) for r in changed), sorted({r[0] for r in gone}))

    def expunged_since(self, modseq: int) -> list[int]:
        """UIDs expunged with a MODSEQ above ``modseq``, ascending (QRESYNC's VANISHED (EARLIER))."""
        rows = self._index.conn.execute(
            "SELECT DISTINCT uid FROM expunged WHERE folder_id = ? AND modseq > ? ORDER BY uid", (self.id, modseq))
        return [r[0] for r in rows]

    # --- reconcile with the disk ---------------------------------------------------------

    def rescan(self, force: bool = True) -> None:
        """Bring the index in line with the files: adopt new ones, drop missing ones, take flags from names.

        With ``force=False`` nothing is done if another process rescanned meanwhile.
        """
        reconcile(self.writer, force=force)

    # --- changes (made by the writer) ----------------------------------------------------

    def append(self, raw: bytes, flags: Iterable[str] = (), internaldate: datetime | None = None) -> int:
        """Store a message durably (file and directory fsynced, index committed); returns its UID."""
        return self.writer.append(raw, flags, internaldate)

    def store_flags(
        self, uids: Iterable[int], flags: Iterable[str], mode: str = "set", unchangedsince: int | None = None
    ) -> FlagResult:
        """Set, add or remove flags; see :meth:`FolderWriter.store_flags`."""
        return self.writer.store_flags(uids, flags, mode, unchangedsince)

    def expunge(self, uids: Iterable[int] | None = None, *, deleted_only: bool | None = None) -> list[int]:
        """Remove messages for good; see :meth:`FolderWriter.expunge`."""
        return self.writer.expunge(uids, deleted_only=deleted_only)

    def copy(self, uids: Iterable[int], dest: Folder | str) -> dict[int, int]:
        """Copy messages into ``dest`` (hard links, like Dovecot); returns {source UID: new UID}."""
        return self.writer.copy(uids, self._resolve(dest).writer)

    def move(self, uids: Iterable[int], dest: Folder | str) -> dict[int, int]:
        """Move messages into ``dest`` atomically (RFC 6851); returns {source UID: new UID}."""
        return self.writer.move(uids, self._resolve(dest).writer)

    def _resolve(self, dest: Folder | str) -> Folder:
        if isinstance(dest, str):
            return self.mailbox.folder(dest)
        if dest.mailbox.path != self.mailbox.path:
            raise StoreError("copy and move work within one mailbox")
        return dest

    def claim_recent(self, upto: int | None = None) -> frozenset[int]:
        """UIDs new since the last claim, up to ``upto``; see :meth:`FolderWriter.claim_recent`."""
        recent = self.writer.claim_recent(upto)
        self._row = self._load()
        return recent
