"""Spool files made ahead of time, so that accepting a message costs one fsync less.

A reserved spool file is created empty under a fresh queue id and its directory
is fsynced in the background, in batches, before anyone uses it. A session that
takes one writes its message into the file and fsyncs the file: the directory
entry is already durable, so the directory fsync that :func:`spool.write` would
do is behind us. The contract of ``submit`` is unchanged: file fsynced,
directory fsynced, rows committed, before "accepted".

An unused reservation is an empty file without a queue row: removed on a clean
stop (:meth:`Reservoir.close`); after a crash it stays as a harmless orphan
(at most ``size`` per process), like a spool file cut short.
"""

from __future__ import annotations

import logging
import os
import queue as queue_module
import threading

from . import spool
from .ids import new_queue_id

log = logging.getLogger(__name__)


class Reservoir:
    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._ready: queue_module.Queue[str] = queue_module.Queue()
        self._taken: set[str] = set()
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._closed = False
        self._known_folders: set[str] = set()
        self._thread = threading.Thread(target=self._fill_forever, name="spool-reserve", daemon=True)
        self._thread.start()
        self._wanted.set()

    def take(self) -> str | None:
        """A queue id whose empty spool file and directory entry are durable, or None if none is ready."""
        try:
            queue_id = self._ready.get_nowait()
        except queue_module.Empty:
            self._wanted.set()
            return None
        with self._lock:
            self._taken.add(queue_id)
        if self._ready.qsize() < self.size // 2:
            self._wanted.set()
        return queue_id

    def claim(self, queue_id: str) -> bool:
        """True (once) if ``queue_id`` came from :meth:`take`: its directory needs no fsync."""
        with self._lock:
            if queue_id in self._taken:
                self._taken.discard(queue_id)
                return True
        return False

    def _fill_forever(self) -> None:
        while not self._closed:
            self._wanted.wait(1.0)
            self._wanted.clear()
            try:
                self._fill()
            except Exception:
                log.exception("could not reserve spool files")

    def _fill(self) -> None:
        missing = self.size - self._ready.qsize()
        if missing <= 0 or self._closed:
            return
        made: list[str] = []
        folders: set[str] = set()
        for _ in range(missing):
            queue_id = new_queue_id()
            path = spool.spool_file(queue_id)
            folder = os.path.dirname(path)
            if folder not in self._known_folders:
                os.makedirs(folder, exist_ok=True)
                spool.fsync_dir(os.path.dirname(folder))
                self._known_folders.add(folder)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            made.append(queue_id)
            folders.add(folder)
        for folder in folders:
            spool.fsync_dir(folder)
        for queue_id in made:
            self._ready.put(queue_id)

    def close(self) -> None:
        """Remove the reservations nobody took (a clean stop)."""
        self._closed = True
        self._wanted.set()
        self._thread.join(5)  # a batch being made finishes first, so none of it is left behind
        while True:
            try:
                queue_id = self._ready.get_nowait()
            except queue_module.Empty:
                break
            try:
                spool.spool_path(queue_id).unlink()
            except FileNotFoundError:
                pass
