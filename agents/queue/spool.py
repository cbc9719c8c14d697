"""The spool: one file per queued message under ``$MAILAPP_HOME/spool``, or one database row
per message (small messages, every message in cluster mode).

A file is written, fsynced and its directory fsynced before its queue row is
committed, so that a message that was "accepted" survives a crash or a power
cut. Nothing else writes here.

In cluster mode (``MAILAPP_CLUSTER``, PostgreSQL only) the bytes go into
``SpooledBody`` in the transaction that commits the queue rows (:func:`add_rows`), so the
commit alone makes a message durable and any node's worker can read it, whichever node
received it and whether that node is still alive. They are deleted in the transaction that
marks the message done (:func:`remove_rows`). A file written before cluster mode was
turned on is still read.

A message of at most ``INLINE_MAX`` octets goes into ``SpooledBody`` too, on SQLite and on
PostgreSQL (:func:`inline`): its bytes reach the disk in the one commit that makes its queue rows
durable, so a ``250`` waits for one fsync (the WAL's) instead of two (the file's and the
WAL's), and reception keeps no file, no thread and no reservation for it. SQLite's WAL is
overwritten in place once checkpointed, so that fsync is a data write without a journal commit
of the file system; on PostgreSQL the file's fsync and its directory's were the second flush
beside the commit's. Larger messages keep their file (a multi-megabyte body through the WAL
would be written twice and, on SQLite, hold the one write lock). :func:`read` and :func:`exists`
look in both places; delivery reads a batch's bodies with one query (:func:`read_many`).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from django.conf import settings

from agents.models import SpooledBody
from mailcore import durable

# Bodies up to this size are spooled in the database (see the module's docstring).
INLINE_MAX = 64 * 1024


def in_database() -> bool:
    """Are all message bodies spooled in the database (cluster mode) rather than in files?"""
    return bool(settings.MAILAPP_CLUSTER)


def inline(size: int) -> bool:
    """Is a message of ``size`` octets spooled in the database (with its queue rows) rather than in a file?"""
    return bool(settings.MAILAPP_CLUSTER) or size <= INLINE_MAX


def bodies_in_database() -> bool:
    """May any body be in the database (then finishing a message must delete its row)? Every
    database holds the small ones now; the question stays for the callers' sake (and
    ``INLINE_MAX = 0`` outside cluster mode would make it False)."""
    return bool(settings.MAILAPP_CLUSTER) or INLINE_MAX > 0


def add_rows(items: list[tuple[str, bytes]]) -> None:
    """Spool (queue id, bytes) in the database; call inside the transaction that saves their queue rows."""
    if items:
        _INSERT_BODY.run(items)


def remove_rows(queue_ids: list[str]) -> None:
    """Forget the database copies of finished messages (inside the transaction that marks them done)."""
    if queue_ids and bodies_in_database():
        # One prepared DELETE on the driver's cursor: through the ORM (its delete collector, the
        # query compiler) it was 2-3 ms of CPU per delivery batch. Nothing refers to a body row.
        from django.db import connection

        from .rows import _mark, executemany

        meta, quote = SpooledBody._meta, connection.ops.quote_name
        key = quote(str(meta.get_field("message").column))
        for start in range(0, len(queue_ids), 500):
            chunk = list(queue_ids[start : start + 500])
            executemany(f"DELETE FROM {quote(meta.db_table)} WHERE {key} IN ({', '.join([_mark()] * len(chunk))})",
                        [chunk])


class _BodyInsert:
    """``INSERT INTO agents_spooledbody`` as one prepared ``executemany`` on the driver's own cursor."""

    _sql: str | None = None

    def run(self, items: list[tuple[str, bytes]]) -> None:
        from django.db import connection

        from .rows import _mark, executemany

        if self._sql is None:
            meta, quote = SpooledBody._meta, connection.ops.quote_name
            columns = ", ".join(quote(str(f.column)) for f in meta.concrete_fields)
            self._sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({_mark()}, {_mark()})"
        executemany(self._sql, items)


_INSERT_BODY = _BodyInsert()


_select_sql: str | None = None


def _row(queue_id: str) -> bytes | None:
    """The body's row, by one prepared SELECT on the driver's cursor (delivery reads every body
    spooled here: the ORM's query building cost more than the read)."""
    global _select_sql
    from django.db import connection

    from .rows import _mark

    if _select_sql is None:
        meta, quote = SpooledBody._meta, connection.ops.quote_name
        columns = {f.name: quote(str(f.column)) for f in meta.concrete_fields}
        data, key = columns["data"], columns["message"]
        _select_sql = f"SELECT {data} FROM {quote(meta.db_table)} WHERE {key} = {_mark()}"
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_select_sql, [queue_id])
        found = cursor.fetchone()
    finally:
        cursor.close()
    return None if found is None else bytes(found[0])


def read_many(queue_ids: list[str]) -> dict[str, bytes]:
    """The bodies of ``queue_ids`` that are spooled in the database, by one SELECT (a delivery batch:
    a query per message was a round trip each on PostgreSQL). Those missing here are in files."""
    if not queue_ids or not bodies_in_database():
        return {}
    from django.db import connection

    from .rows import _mark

    meta, quote = SpooledBody._meta, connection.ops.quote_name
    columns = {f.name: quote(str(f.column)) for f in meta.concrete_fields}
    marks = ", ".join([_mark()] * len(queue_ids))
    sql = (f"SELECT {columns['message']}, {columns['data']} FROM {quote(meta.db_table)}"
           f" WHERE {columns['message']} IN ({marks})")
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, list(queue_ids))
        return {str(queue_id): bytes(data) for queue_id, data in cursor.fetchall()}
    finally:
        cursor.close()


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


def discard_reserved(queue_id: str) -> None:
    """Remove a reserved (empty) spool file that its message did not need; no fsync: an empty
    file without a queue row is a harmless orphan if a crash brings it back."""
    try:
        os.unlink(spool_file(queue_id))
    except FileNotFoundError:
        pass


def sync_paths(paths: list[Path]) -> None:
    """Fsync the directories of freshly written spool files, each once."""
    for folder in {p.parent for p in paths}:
        fsync_dir(folder)


def read(queue_id: str) -> bytes:
    """The message's bytes; raises FileNotFoundError if it has none (neither row nor file)."""
    if bodies_in_database():
        data = _row(queue_id)
        if data is not None:
            return data
    return spool_path(queue_id).read_bytes()


def open_message(queue_id: str):  # -> BinaryIO
    return io.BytesIO(read(queue_id))


def exists(queue_id: str) -> bool:
    """Does the spool hold the message's bytes (a file or a row)?"""
    return spool_path(queue_id).exists() or (bodies_in_database() and _row(queue_id) is not None)


def remove(queue_id: str) -> None:
    """Remove a message's spool file (or row) once every recipient has a final outcome."""
    remove_rows([queue_id])
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
