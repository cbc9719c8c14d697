"""A protocol process's bounded set of connections to the auth service (no Django here).

Every login of the process (IMAP, POP3, SMTP AUTH, ManageSieve sessions, each in a worker
thread) takes one idle connection, sends one request and reads one answer. At most
``connections`` are open at once; a login that finds them all busy waits for one (the
service answers cached logins in microseconds; only hashes take long, and those queue
behind the service's one hash cap anyway).

Failing closed: whatever goes wrong (no socket, the service killed, a timeout, a garbled
answer) raises :class:`agents.loginguard.LoginUnavailable`, which every door answers as a
temporary failure; nothing here ever says yes by itself. A connection that broke while idle
(the service restarted since) is retried once on a fresh one: a login is a question, asking
it twice changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agents.loginguard import LoginUnavailable

from . import wire

UNIX_PATH_MAX = 100  # sun_path is 108 bytes on Linux; longer paths are reached through /proc/self/fd


@contextlib.contextmanager
def unix_address(path: Path) -> Iterator[str]:
    """An address to bind or connect ``path`` by, however long the path (a test's MAILAPP_HOME may be deep)."""
    if len(os.fsencode(path)) < UNIX_PATH_MAX:
        yield os.fspath(path)
        return
    directory = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{directory}/{path.name}"
    finally:
        os.close(directory)


def connect_unix(path: Path, timeout: float) -> socket.socket:
    """A connected socket to ``path`` (``timeout`` on each later send and receive too).

    A live service whose listen queue is full makes the connection wait in the kernel for a
    place, up to ``timeout``, as a TCP connect would: Python's ``settimeout`` makes the socket
    non-blocking, and a non-blocking connect to a full Unix listen queue fails at once with
    EAGAIN (a cold burst of first logins answered ``NO [UNAVAILABLE]``, issue 17). So the
    connect blocks, bounded by ``SO_SNDTIMEO``, which the kernel applies to it. A service that
    is gone still fails at once (no socket file: ENOENT; nobody listening on it: ECONNREFUSED),
    and one killed while we wait in its queue wakes us with ECONNREFUSED.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        seconds = max(0.001, timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                        struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000)))
        with unix_address(path) as address:
            sock.connect(address)  # blocking: waits for a place in the queue, at most ``timeout``
        sock.settimeout(timeout)
    except BaseException:
        sock.close()
        raise
    return sock


class AuthClient:
    """Thread-safe; one per process. ``call`` is blocking (sessions call it from worker threads)."""

    def __init__(self, path: Path, *, connections: int = 16, timeout: float = 60.0) -> None:
        self.path = path
        self.timeout = timeout
        self.connections = max(1, connections)
        self._idle: list[socket.socket] = []
        self._busy = 0  # connections lent out (or being made) now
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)  # waited on only when all are busy

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """The service's answer to ``request``; raises LoginUnavailable if there is none to be had."""
        frame = wire.encode(request)
        with self._lock:  # a plain lock on the fast path: a BoundedSemaphore cost 10 µs a login
            if self._busy >= self.connections and not self._freed.wait_for(
                    lambda: self._busy < self.connections, timeout=self.timeout):
                raise LoginUnavailable("every connection to the auth service is busy")
            self._busy += 1
            sock = self._idle.pop() if self._idle else None
        try:
            if sock is not None:
                try:
                    answer = self._exchange(sock, frame)
                except (OSError, wire.FrameError):
                    sock.close()  # broke while idle (the service restarted): ask once more on a new one
                else:
                    self._keep(sock)
                    return _checked(answer)
            try:
                sock = connect_unix(self.path, self.timeout)
            except OSError as exc:
                raise LoginUnavailable(f"auth service at {self.path} unreachable: {exc.strerror or exc}") from None
            try:
                answer = self._exchange(sock, frame)
            except (OSError, wire.FrameError) as exc:
                sock.close()
                raise LoginUnavailable(f"auth service gave no answer: {exc}") from None
            self._keep(sock)
            return _checked(answer)
        finally:
            with self._lock:
                self._busy -= 1
                if self._busy == self.connections - 1:
                    self._freed.notify()

    def _exchange(self, sock: socket.socket, frame: bytes) -> dict[str, Any]:
        sock.sendall(frame)
        answer = wire.read(sock)
        if answer is None:
            raise wire.FrameError("the auth service closed the connection")
        return answer

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            self._idle.append(sock)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()


def _checked(answer: dict[str, Any]) -> dict[str, Any]:
    if "error" in answer:
        raise LoginUnavailable(f"auth service error: {answer['error']}")
    return answer
