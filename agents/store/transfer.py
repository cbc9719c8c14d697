"""Copying a whole mailbox to another host: a tar stream out, a staged copy in, placed with one rename.

Used to move a mailbox between nodes (``agents.cluster.move``). The index travels with the
folders, so UIDs, UIDVALIDITY, flags, MODSEQs and keywords are the same on the new disk.

The stream is a snapshot (``snapshot.snapshot_mailbox``: the index through SQLite's online
backup, then the files it names), so it is consistent even while the mailbox is in use; a
second pass taken while the mailbox is frozen is the exact state. A receiver that already
holds messages from an earlier pass names their unique names (``have``): those are not sent
again (a message's content never changes; a flag change only renames its file) and the
receiver links them from its earlier copy. The stream ends with a manifest: every file of
the copy, each sent file's SHA-256, and the folders' counters, which the receiver checks.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .index import INDEX_NAME, forget
from .mailbox import mailbox_path
from .maildir import INFO_SEP, fsync_dir
from .snapshot import MAILDIR_SUBDIRS, snapshot_mailbox

MANIFEST = ".mailapp-move-manifest.json"  # the last member of a stream
STAGING = ".mailapp-move"  # under the mail root: same disk, so placing the copy is a rename


class TransferError(Exception):
    """The copy is incomplete or does not match what the sender said it sent."""


def fingerprint(index: Path) -> dict[str, list[int]]:
    """Each folder's (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, messages, bytes): equal on both sides
    when the copy is the mailbox, and moved by any write to it."""
    conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT name, uidvalidity, uidnext, highestmodseq, exists_count, bytes FROM folders")
        return {name: [v, n, m, c, b] for name, v, n, m, c, b in rows}
    finally:
        conn.close()


class _Chunks(io.RawIOBase):
    """What ``tarfile`` writes, collected for the caller to yield piece by piece."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def export_stream(path: Path, scratch: Path, have: set[str] | frozenset[str] = frozenset()) -> Iterator[bytes]:
    """The mailbox at ``path`` as an uncompressed tar stream, in pieces; ``scratch`` holds the SQLite
    copies meanwhile (removed at the end). Messages whose unique name is in ``have`` are listed in
    the manifest but not sent."""
    chunks = _Chunks()
    tar = tarfile.open(fileobj=chunks, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115 (closed below)
    files: list[dict[str, Any]] = []
    try:
        index_copy: Path | None = None
        for rel, source, uniq in _under_write_lock(path / INDEX_NAME, snapshot_mailbox(path, scratch)):
            if rel == INDEX_NAME:
                index_copy = source
            if uniq is not None and uniq in have:
                files.append({"path": rel, "uniq": uniq})
                continue
            digest = hashlib.sha256()
            with open(source, "rb") as handle:
                info = tar.gettarinfo(fileobj=handle, arcname=rel)
                info.uname = info.gname = ""
                tar.addfile(info, _Hashing(handle, digest))
            files.append({"path": rel, "uniq": uniq, "sha256": digest.hexdigest(), "size": info.size})
            yield chunks.take()
        if index_copy is None:
            raise TransferError(f"{path} has no index")
        manifest = json.dumps({"files": files, "folders": fingerprint(index_copy)}).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        tar.close()
        yield chunks.take()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _under_write_lock(index: Path, entries: Iterator[tuple[str, Path, str | None]]
                      ) -> Iterator[tuple[str, Path, str | None]]:
    """``entries`` with the index copy (made before the first entry) taken while this holds the
    index's write lock: a delivery batch that is between its guard and its commit finishes first,
    and one that has not reached its guard waits and then asks it (``deliver_many``)."""
    lock = sqlite3.connect(index, timeout=60, isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")
        first = next(entries)
    finally:
        try:
            lock.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        lock.close()
    yield first
    yield from entries


class _Hashing:
    """A file read through for ``tarfile``, hashed on the way."""

    def __init__(self, handle: IO[bytes], digest: Any) -> None:
        self.handle, self.digest = handle, digest

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def staging_dir(root: Path, name: str) -> Path:
    return root / STAGING / name


def unique_names(copy: Path) -> dict[str, Path]:
    """Unique name → file, for every message file of a staged copy (what it ``have``s)."""
    found: dict[str, Path] = {}
    for dirpath, _dirnames, filenames in os.walk(copy):
        if Path(dirpath).name not in ("new", "cur"):
            continue
        for name in filenames:
            found[name.partition(INFO_SEP)[0]] = Path(dirpath) / name
    return found


def receive(stream: IO[bytes], into: Path, earlier: Path | None = None) -> dict[str, Any]:
    """Unpack a stream of :func:`export_stream` into the empty directory ``into`` and check it;
    messages not sent are linked from ``earlier`` (a previous pass). Returns the manifest.

    Raises :class:`TransferError` when a file is missing, outside the mailbox, or differs from its
    checksum, or the stream ends before its manifest."""
    into.mkdir(parents=True, exist_ok=False)
    root = into.resolve()
    manifest: dict[str, Any] | None = None
    digests: dict[str, str] = {}
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                raise TransferError(f"unexpected member {member.name!r} in the stream")
            handle = tar.extractfile(member)
            assert handle is not None
            if member.name == MANIFEST:
                manifest = json.loads(handle.read())
                continue
            target = (into / member.name).resolve()
            if root not in target.parents:
                raise TransferError(f"{member.name!r} is outside the mailbox")
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with open(target, "wb") as out:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            os.utime(target, (member.mtime, member.mtime))
            digests[member.name] = digest.hexdigest()
    if manifest is None:
        raise TransferError("the stream ended before its manifest: the copy is incomplete")
    previous = unique_names(earlier) if earlier is not None and earlier.is_dir() else {}
    for entry in manifest["files"]:
        rel = entry["path"]
        if "sha256" in entry:
            if digests.get(rel) != entry["sha256"]:
                raise TransferError(f"{rel} differs from what the sender sent")
            continue
        source = previous.get(entry["uniq"])
        if source is None:
            raise TransferError(f"{rel} was not sent and no earlier copy holds it")
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    _complete_folders(into)
    if fingerprint(into / INDEX_NAME) != manifest["folders"]:
        raise TransferError("the copied index does not match the sender's folders")
    return manifest


def _complete_folders(copy: Path) -> None:
    """Empty ``new``/``cur``/``tmp`` directories are not in a tar of files: make them again."""
    conn = sqlite3.connect(f"file:{copy / INDEX_NAME}?mode=ro", uri=True)
    try:
        dirnames = [r[0] for r in conn.execute("SELECT dirname FROM folders")]
    finally:
        conn.close()
    for dirname in dirnames:
        base = copy / dirname if dirname not in ("", ".") else copy
        for sub in MAILDIR_SUBDIRS:
            (base / sub).mkdir(parents=True, exist_ok=True)
        if base != copy:
            (base / "maildirfolder").touch()


def place(copy: Path, root: Path, address: str, aside: Path) -> Path | None:
    """Put a received copy in the live tree as ``address``'s mailbox (one rename on the same disk);
    a stale directory already there (an earlier, failed move) is moved to ``aside`` first and
    returned. The UIDVALIDITY is kept: the copy is the same mailbox, not a restore."""
    target = mailbox_path(root, address)
    moved_aside: Path | None = None
    os.sync()  # every copied file on disk before the rename makes it the mailbox
    if target.is_dir():
        forget(target / INDEX_NAME)
        moved_aside = aside / f"{target.parent.name}-{target.name}-{uuid.uuid4().hex[:8]}"
        moved_aside.parent.mkdir(parents=True, exist_ok=True)
        os.rename(target, moved_aside)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(copy, target)
    forget(target / INDEX_NAME)
    fsync_dir(target.parent)
    return moved_aside


def drop(root: Path, address: str, expected: dict[str, list[int]], aside: Path) -> tuple[bool, Path, list[Path]]:
    """The old home's copy, after a move: removed if it is still exactly what was copied
    (``expected``: the manifest's folders), else kept under ``aside`` for the operator (a write
    reached it after the last copy). Returns (removed, where it was or went, the message files of
    the kept copy that came after the last copy: UIDs at or past that copy's UIDNEXT, for the
    caller to deliver again at the new home)."""
    source = mailbox_path(root, address)
    if not source.is_dir():
        return True, source, []
    forget(source / INDEX_NAME)
    same = (source / INDEX_NAME).exists() and fingerprint(source / INDEX_NAME) == expected
    doomed = aside / f"{source.parent.name}-{source.name}-{uuid.uuid4().hex[:8]}"
    doomed.parent.mkdir(parents=True, exist_ok=True)
    os.rename(source, doomed)  # out of the live tree at once: nothing opens it again
    fsync_dir(source.parent)
    if same:
        shutil.rmtree(doomed, ignore_errors=True)
        return True, source, []
    return False, doomed, _late_messages(doomed, expected)


def _late_messages(copy: Path, expected: dict[str, list[int]]) -> list[Path]:
    if not (copy / INDEX_NAME).exists():
        return []
    conn = sqlite3.connect(f"file:{copy / INDEX_NAME}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT f.name, f.dirname, m.uid, m.subdir, m.fname FROM messages m"
                            " JOIN folders f ON f.id = m.folder_id ORDER BY f.id, m.uid").fetchall()
    finally:
        conn.close()
    late = []
    for name, dirname, uid, subdir, fname in rows:
        if name in expected and uid < expected[name][1]:
            continue  # in the copy already
        path = (copy / dirname if dirname not in ("", ".") else copy) / subdir / fname
        if path.is_file():
            late.append(path)
    return late
