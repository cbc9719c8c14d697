"""The POP3 maildrop lock: one POP3 session per mailbox, across threads, processes and hosts.

RFC 1939 wants the maildrop locked while a session is in TRANSACTION, so two
clients (a phone and a laptop, both "leave on server" off) cannot both download
and delete the same messages. We take an exclusive ``flock`` on
``<mailbox dir>/mailapp-pop3.lock``:
- the kernel drops it when the holder dies (kill -9, crash): no stale locks;
- on Linux NFS, flock is carried by the NFS lock manager, so agents on several
  hosts sharing the mail store exclude each other too;
- a process-wide set also covers the case where flock is emulated by POSIX
  locks (NFS), which do not conflict within one process.
The file is created once and never removed (removing a lock file races with a
new holder). It sits beside the Maildir directories, where Dovecot and mutt
ignore it.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

LOCK_NAME = "mailapp-pop3.lock"

_held: set[str] = set()
_held_lock = threading.Lock()


class LockBusy(Exception):
    """Another session holds the lock."""


class MaildropLock:
    """An exclusive, non-blocking lock on one mailbox directory; :meth:`release` is idempotent."""

    def __init__(self, mailbox_dir: Path) -> None:
        self.path = Path(mailbox_dir) / LOCK_NAME
        self._key = str(self.path.resolve())
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now or raise :class:`LockBusy`; never waits."""
        with _held_lock:
            if self._key in _held:
                raise LockBusy(self._key)
            _held.add(self._key)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except BaseException:
            self._forget()
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self._forget()
            raise LockBusy(self._key) from None
        except BaseException:
            os.close(fd)
            self._forget()
            raise
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.close(fd)  # closing the only descriptor drops the flock
        finally:
            self._forget()

    def _forget(self) -> None:
        with _held_lock:
            _held.discard(self._key)

    def __enter__(self) -> MaildropLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
