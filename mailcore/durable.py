"""Durable file writes, shared by the spool and the store (no Django here).

"Accepted" and "delivered" both mean the bytes are on disk: the file's data is
fsynced, and its directory is fsynced so that the name survives a crash too.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Sequence
from pathlib import Path


def fsync_dir(path: str | Path) -> None:
    """Make a directory's entries (new, renamed or removed names) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: str | Path, data: bytes, mode: int = 0o600) -> None:
    """Write all of ``data`` to ``path`` (created or truncated), without fsync (see :func:`fsync_file`)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    """Fsync a file written earlier (its data and size reach the disk)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
FSYNC_THREADS = 16


def fsync_files(paths: Sequence[str | Path]) -> None:
    """Fsync every file of ``paths``, several at once: concurrent fsyncs on one file system
    share journal commits, where one after another each waits for its own. Raises the first
    error (after every fsync has finished)."""
    global _pool
    if len(paths) <= 1:
        for path in paths:
            fsync_file(path)
        return
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = concurrent.futures.ThreadPoolExecutor(FSYNC_THREADS, thread_name_prefix="fsync")
    for future in [_pool.submit(fsync_file, path) for path in paths]:
        future.result()


def write_fsynced(path: str | Path, data: bytes, mode: int = 0o600) -> None:
    """Write all of ``data`` to ``path`` (created or truncated) and fsync it.

    The directory is not synced here: callers decide when (group commit, or after
    a rename), because that is where they save fsyncs.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
