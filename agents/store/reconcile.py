"""Repair a folder's index from its Maildir after changes the store did not make.

Runs when a directory's mtime differs from the one recorded in the index: a
file dropped in by hand or by mutt, a file deleted, flags changed by renaming,
or a crash between a file operation and its index commit. Files win: a file
without an index row gets the next UID, a row without a file is expunged, and
system flags are taken from the file name (keywords stay as indexed).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from . import flags as flagset
from . import maildir, mime

if TYPE_CHECKING:
    from .folder import Folder


def _listing(folder: Folder) -> dict[str, tuple[str, str]]:
    """{unique name: (subdir, file name)} for every message file in new/ and cur/."""
    found: dict[str, tuple[str, str]] = {}
    for subdir in ("new", "cur"):
        try:
            entries = os.scandir(folder.path / subdir)
        except FileNotFoundError:
            continue
        with entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                uniq, _ = maildir.split_name(entry.name)
                found[uniq] = (subdir, entry.name)
    return found


def reconcile(folder: Folder) -> None:
    """Rescan ``folder`` under the index write lock; see the module docstring for the rules."""
    maildir.ensure(folder.path, maildirfolder=folder.name != "INBOX")
    index = folder._index
    with index.write(durable=True) as conn:
        mtimes = maildir.dir_mtimes(folder.path)  # before listing: a change during the scan triggers another
        on_disk = _listing(folder)
        known = {
            row[1]: row
            for row in conn.execute(
                "SELECT uid, uniq, subdir, fname, flags FROM messages WHERE folder_id = ?", (folder.id,)
            )
        }
        gone = [row[0] for uniq, row in known.items() if uniq not in on_disk]
        renamed = []
        for uniq, row in known.items():
            place = on_disk.get(uniq)
            if place is None or place == (row[2], row[3]):
                continue
            old = flagset.decode(row[4])
            if place[0] == "cur":
                _, letters = maildir.split_name(place[1])
                new = frozenset(f for f in old if f not in maildir.FLAG_LETTERS) | letters
            else:
                new = old
            renamed.append((row[0], place[0], place[1], new, old))
        added = sorted(uniq for uniq in on_disk if uniq not in known)
        if not (gone or renamed or added):
            conn.execute("UPDATE folders SET new_mtime = ?, cur_mtime = ? WHERE id = ?", (*mtimes, folder.id))
            return
        modseq = folder._bump(conn)
        if gone:
            folder._forget(conn, sorted(gone), modseq)
        for uid, subdir, fname, new, old in renamed:
            conn.execute(
                "UPDATE messages SET subdir = ?, fname = ?, flags = ?, seen = ?, modseq = CASE WHEN ? THEN ?"
                " ELSE modseq END WHERE folder_id = ? AND uid = ?",
                (subdir, fname, flagset.encode(new), int("\\Seen" in new), new != old, modseq, folder.id, uid),
            )
        for uniq in sorted(added, key=lambda u: _sort_key(on_disk[u][1])):
            _adopt(folder, conn, uniq, *on_disk[uniq], modseq)
        conn.execute("UPDATE folders SET new_mtime = ?, cur_mtime = ? WHERE id = ?", (*mtimes, folder.id))


def _sort_key(fname: str) -> tuple[int, str]:
    head = fname.split(".", 1)[0]
    return (int(head) if head.isdigit() else 0, fname)


def _adopt(folder: Folder, conn, uniq: str, subdir: str, fname: str, modseq: int) -> None:  # type: ignore[no-untyped-def]
    path = folder.path / subdir / fname
    try:
        data = path.read_bytes()
        mtime = int(os.stat(path).st_mtime)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return
    data = maildir.to_crlf(data)
    _, letters = maildir.split_name(fname)
    uid = folder._insert(conn, uniq=uniq, subdir=subdir, fname=fname, flags=letters if subdir == "cur" else frozenset(),
                         size=len(data), internaldate=mtime, summary=mime.summarize(data), modseq=modseq)  # fmt: skip
    # A delivery that crashed after its rename but before its commit is finished here.
    conn.execute("UPDATE deliveries SET uid = ? WHERE uniq = ? AND uid IS NULL", (uid, uniq))
