"""Repair a folder's index from its Maildir after changes the store did not make.

Runs when a directory's mtime differs from the one recorded in the index: a
file dropped in by hand or by mutt, a file deleted, flags changed by renaming,
or a crash between a file operation and its index commit. Files win: a file
without an index row gets the next UID, a row without a file is expunged, and
system flags are taken from the file name (keywords stay as indexed).
"""

from __future__ import annotations

import json
import os
import time

from . import flags as flagset
from . import maildir, mime
from .errors import FolderNotFound
from .writes import FolderWriter

BATCH = 500
TMP_MAX_AGE = 36 * 3600


def _listing(writer: FolderWriter, subdirs: tuple[str, ...]) -> set[str]:
    """``"subdir/file name"`` of every message file in the given subdirectories."""
    found: set[str] = set()
    for subdir in subdirs:
        try:
            names = os.listdir(writer.path / subdir)
        except FileNotFoundError:
            continue
        prefix = subdir + "/"
        found.update(prefix + name for name in names if not name.startswith("."))
    return found


def reconcile(writer: FolderWriter, *, force: bool = True) -> None:
    """Rescan the writer's folder under the index write lock; see the module docstring for the rules."""
    index = writer.place.index
    with index.write(durable=True) as conn:
        row = conn.execute("SELECT name, dirname, new_mtime, cur_mtime FROM folders WHERE id = ?", (writer.id,))
        recorded = row.fetchone()
        if recorded is None:
            raise writer.place.gone()
        writer.place.follow(recorded[0], recorded[1])  # renamed by another session: never scan the old path
        if writer.place.name != "INBOX" and not maildir.is_maildir(writer.path):
            raise FolderNotFound(f"the directory of folder {writer.place.name!r} is gone")
        maildir.ensure(writer.path, maildirfolder=writer.place.name != "INBOX")
        mtimes = maildir.dir_mtimes(writer.path)  # before listing: a change during the scan triggers another
        if not force and mtimes == (recorded[2], recorded[3]):
            return
        # Only a directory whose mtime moved can hold changes (a move new/ -> cur/ moves both), so a file
        # dropped into new/ does not cost a listing of a 100,000-file cur/.
        changed = tuple(
            sub for sub, now, then in zip(("new", "cur"), mtimes, recorded[2:4], strict=True) if force or now != then
        )
        _clean_tmp(writer)
        # Compare "subdir/name" sets first (C speed); only the differences get per-message work.
        on_disk = _listing(writer, changed)
        if changed == ("new",):  # the usual case: the partial index holds just the few files in new/
            query = (
                "SELECT 'new/' || fname FROM messages INDEXED BY messages_new WHERE folder_id = ? AND subdir = 'new'"
            )
            rows = conn.execute(query, (writer.id,))
        else:
            query = (
                "SELECT subdir || '/' || fname FROM messages"
                " WHERE folder_id = ? AND subdir IN (SELECT value FROM json_each(?))"
            )
            rows = conn.execute(query, (writer.id, json.dumps(changed)))
        indexed = {row[0] for row in rows}
        extra: dict[str, tuple[str, str]] = {}
        for place in on_disk - indexed:
            subdir, _, fname = place.partition("/")
            extra[maildir.split_name(fname)[0]] = (subdir, fname)
        missing = indexed - on_disk
        gone: list[int] = []
        renamed: list[tuple[int, str, str, frozenset[str], frozenset[str]]] = []
        if missing:
            uniqs = sorted({maildir.split_name(place.partition("/")[2])[0] for place in missing})
            for uid, uniq, flags_text in conn.execute(
                "SELECT uid, uniq, flags FROM messages"
                " WHERE folder_id = ? AND uniq IN (SELECT value FROM json_each(?))",
                (writer.id, json.dumps(uniqs)),
            ).fetchall():
                moved = extra.pop(uniq, None)
                if moved is None:
                    gone.append(uid)
                    continue
                old = flagset.decode(flags_text)
                new = old
                if moved[0] == "cur":
                    _, letters = maildir.split_name(moved[1])
                    new = frozenset(f for f in old if f not in maildir.FLAG_LETTERS) | letters
                renamed.append((uid, moved[0], moved[1], new, old))
        added = sorted(extra, key=lambda u: _sort_key(extra[u][1]))
        if gone or renamed:
            modseq = writer.bump(conn)
            if gone:
                writer.forget(conn, sorted(gone), modseq)
            for uid, subdir, fname, new, old in renamed:
                conn.execute(
                    "UPDATE messages SET subdir = ?, fname = ?, flags = ?, seen = ?, modseq = CASE WHEN ? THEN ?"
                    " ELSE modseq END WHERE folder_id = ? AND uid = ?",
                    (subdir, fname, flagset.encode(new), int("\\Seen" in new), new != old, modseq, writer.id, uid),
                )
        if not added:
            conn.execute("UPDATE folders SET new_mtime = ?, cur_mtime = ? WHERE id = ?", (*mtimes, writer.id))
            return
    # New files are parsed outside the lock and indexed in batches, so adopting a big
    # migrated folder never blocks deliveries for long.
    for start in range(0, len(added), BATCH):
        _adopt_batch(writer, [(u, *extra[u]) for u in added[start : start + BATCH]])
    with index.write() as conn:
        conn.execute("UPDATE folders SET new_mtime = ?, cur_mtime = ? WHERE id = ?", (*mtimes, writer.id))


def _clean_tmp(writer: FolderWriter) -> None:
    """Remove files left in tmp/ by writers that died more than 36 hours ago (the Maildir rule)."""
    limit = time.time() - TMP_MAX_AGE
    try:
        with os.scandir(writer.path / "tmp") as entries:
            for entry in entries:
                try:
                    if entry.is_file() and entry.stat().st_mtime < limit:
                        os.unlink(entry.path)
                except FileNotFoundError:
                    continue
    except FileNotFoundError:
        return


def _sort_key(fname: str) -> tuple[int, str]:
    head = fname.split(".", 1)[0]
    return (int(head) if head.isdigit() else 0, fname)


def _adopt_batch(writer: FolderWriter, batch: list[tuple[str, str, str]]) -> None:
    parsed = []
    for uniq, subdir, fname in batch:
        path = writer.path / subdir / fname
        try:
            data = maildir.to_crlf(path.read_bytes())
            mtime = int(os.stat(path).st_mtime)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            continue  # moved or removed meanwhile: the next rescan sees where it went
        parsed.append((uniq, subdir, fname, data, mtime, mime.summarize(data)))
    if not parsed:
        return
    with writer.place.index.write(durable=True) as conn:
        present = {
            row[0]
            for row in conn.execute(
                "SELECT uniq FROM messages WHERE folder_id = ? AND uniq IN (SELECT value FROM json_each(?))",
                (writer.id, json.dumps([p[0] for p in parsed])),
            )
        }
        modseq = writer.bump(conn)
        for uniq, subdir, fname, data, mtime, summary in parsed:
            if uniq in present:  # another process adopted it first
                continue
            _, letters = maildir.split_name(fname)
            uid = writer.insert(conn, uniq=uniq, subdir=subdir, fname=fname,
                                 flags=letters if subdir == "cur" else frozenset(), size=len(data), internaldate=mtime,
                                 summary=summary, modseq=modseq, data=data)  # fmt: skip
            # A delivery that crashed after its rename but before its commit is finished here.
            conn.execute("UPDATE deliveries SET uid = ? WHERE uniq = ? AND uid IS NULL", (uid, uniq))
