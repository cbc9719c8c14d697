"""The spool: one file per queued message under ``$MAILAPP_HOME/spool``.

A file is written, fsynced and its directory fsynced before its queue row is
committed, so that a message that was "accepted" survives a crash or a power
cut. Nothing else writes here.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings

from mailcore import durable


def spool_root() -> Path:
    return Path(settings.MAILAPP_SPOOL_DIR)


def spool_path(queue_id: str) -> Path:
    return Path(spool_file(queue_id))


def spool_file(queue_id: str) -> str:
    """:func:`spool_path` as a plain string (cheaper, for the hot path)."""
    # Spread files over folders by the id's last two characters so no directory grows huge.
    return os.path.join(settings.MAILAPP_SPOOL_DIR, queue_id[-2:].lower(), queue_id)


fsync_dir = durable.fsync_dir


def write(queue_id: str, data: bytes, *, sync: bool = True, fsync: bool = True) -> Path:
    """Store ``data`` durably as the spool file of ``queue_id`` and return its path.

    The file is written under its final name and fsynced, then its directory is
    fsynced. No temporary name and rename: the queue row, committed only after
    this returns, is what makes a spool file part of the queue, so a file cut
    short by a crash has no row and is never read. Skipping the rename also
    saves a journal commit.

    With ``sync=False`` the caller promises that the directory entry is durable
    another way: :func:`sync_paths` before it reports the message accepted, or a
    file reserved ahead (``agents.queue.reserve``). With ``fsync=False`` the file is
    only written (its data in the page cache, safe from a crash of the process, not
    of the machine): the caller calls :func:`flush` before it says "accepted".
    """
    final = spool_file(queue_id)
    folder = os.path.dirname(final)
    if not os.path.isdir(folder):
        os.makedirs(folder, exist_ok=True)
        fsync_dir(os.path.dirname(folder))
    if not fsync:
        durable.write_file(final, data)
        return Path(final)
    durable.write_fsynced(final, data)
    if sync:
        fsync_dir(folder)
    return Path(final)


def flush(path: Path, directory: bool) -> None:
    """Make a file written with ``write(..., fsync=False)`` durable (and its directory entry)."""
    durable.fsync_file(path)
    if directory:
        fsync_dir(path.parent)


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


def remove_many(queue_ids: list[str]) -> None:
    """Remove the spool files of messages whose every recipient is final (their rows say so, committed).

    No directory fsync: if a crash undoes an unlink, the file of a message
    already marked done lingers unread (nothing reads the spool of a done
    message), which costs disk space, never a second delivery.
    """
    for queue_id in queue_ids:
        try:
            os.unlink(spool_file(queue_id))
        except FileNotFoundError:
            pass
