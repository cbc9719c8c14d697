"""The spool: one file per queued message under ``$MAILAPP_HOME/spool``.

A file is written, fsynced and its directory fsynced before its queue row is
committed, so that a message that was "accepted" survives a crash or a power
cut. Nothing else writes here.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings


def spool_root() -> Path:
    return Path(settings.MAILAPP_SPOOL_DIR)


def spool_path(queue_id: str) -> Path:
    # Spread files over 256 folders so no directory grows huge under load.
    return spool_root() / queue_id[-2:].lower() / queue_id


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(queue_id: str, data: bytes, *, sync: bool = True) -> Path:
    """Store ``data`` durably as the spool file of ``queue_id`` and return its path.

    The file is written under its final name and fsynced, then its directory is
    fsynced. No temporary name and rename: the queue row, committed only after
    this returns, is what makes a spool file part of the queue, so a file cut
    short by a crash has no row and is never read. Skipping the rename also
    keeps the directory fsync cheap (on ext4 the file's fsync has already
    committed its directory entry).

    With ``sync=False`` the caller promises to call :func:`sync_paths` before it
    reports the message accepted (group commit: many files, few directory syncs).
    """
    final = spool_path(queue_id)
    folder = final.parent
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        fsync_dir(folder.parent)
    fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    if sync:
        fsync_dir(folder)
    return final


def sync_paths(paths: list[Path]) -> None:
    """Fsync the directories of freshly written spool files, each once."""
    for folder in {p.parent for p in paths}:
        fsync_dir(folder)


def read(queue_id: str) -> bytes:
    return spool_path(queue_id).read_bytes()


def open_message(queue_id: str):  # -> BinaryIO
    return spool_path(queue_id).open("rb")


def exists(queue_id: str) -> bool:
    return spool_path(queue_id).exists()


def remove(queue_id: str) -> None:
    """Remove a spool file once every recipient has a final outcome."""
    path = spool_path(queue_id)
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)
