"""The spool: one file per queued message under ``$MAILAPP_HOME/spool``, or, in cluster mode,
one database row per message.

A file is written, fsynced and its directory fsynced before its queue row is
committed, so that a message that was "accepted" survives a crash or a power
cut. Nothing else writes here.

In cluster mode (``MAILAPP_CLUSTER``, PostgreSQL only) the bytes go into
``SpooledBody`` in the transaction that commits the queue rows (:func:`add_rows`), so the
commit alone makes a message durable and any node's worker can read it, whichever node
received it and whether that node is still alive. They are deleted in the transaction that
marks the message done (:func:`remove_rows`). A file written before cluster mode was
turned on is still read.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings

from agents.models import SpooledBody
from mailcore import durable


def in_database() -> bool:
    """Are message bodies spooled in the database (cluster mode) rather than in files?"""
    return bool(settings.MAILAPP_CLUSTER)


def add_rows(items: list[tuple[str, bytes]]) -> None:
    """Spool (queue id, bytes) in the database; call inside the transaction that saves their queue rows."""
    SpooledBody.objects.bulk_create([SpooledBody(message_id=queue_id, data=raw) for queue_id, raw in items])


def remove_rows(queue_ids: list[str]) -> None:
    """Forget the database copies of finished messages (inside the transaction that marks them done)."""
    if queue_ids and in_database():
        SpooledBody.objects.filter(message_id__in=queue_ids).delete()


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
    """The message's bytes; raises FileNotFoundError if it has none (neither row nor file)."""
    if in_database():
        data = SpooledBody.objects.filter(message_id=queue_id).values_list("data", flat=True).first()
        if data is not None:
            return bytes(data)
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
