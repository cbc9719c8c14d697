"""Several worker processes sharing the agent's listening sockets.

One Python process tops out at one core, and on a loaded host the scheduler
hands out CPU per process (Postfix runs a process per session). The agent binds
its sockets once, forks ``workers`` children that each run the asyncio server on
them (the kernel gives each new connection to one of them), and supervises:
SIGTERM is passed on and awaited; a child that dies on its own takes the whole
agent down so that the supervisor restarts it cleanly. Children die with the
agent, even on ``kill -9`` (``PR_SET_PDEATHSIG``).

Sessions per IP are counted per worker; failed AUTH attempts are counted by the
login guard in the database, which every worker shares.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import time
from collections.abc import Callable

from agents import listeners

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 20.0


def default_workers() -> int:
    """One when the supervisor runs several smtp processes (``MAILAPP_SMTP_PROCESSES``: the
    cores are theirs already). Else one per core (at most 8) on PostgreSQL; one on SQLite,
    where the workers' commits would only queue for SQLite's single write lock (measured:
    two workers were slower than one)."""
    from django.conf import settings

    if settings.MAILAPP_SMTP_PROCESSES > 1 or settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


bind = listeners.bind  # the listening sockets the workers share


def _die_with_parent(parent: int) -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    if os.getppid() != parent:  # the agent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def run_workers(count: int, child: Callable[[], None]) -> int:
    """Fork ``count`` children running ``child()``; return the agent's exit code."""
    from django.db import connections

    connections.close_all()  # no database connection may be shared across fork
    parent = os.getpid()
    children: set[int] = set()
    for _ in range(count):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _die_with_parent(parent)
                child()
            except BaseException:
                log.exception("smtp worker failed")
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children.add(pid)
    log.info("smtp agent: %d workers (pids %s)", count, " ".join(map(str, sorted(children))))

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    deadline: float | None = None
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if stopping and deadline is None:
                deadline = time.monotonic() + STOP_GRACE_SECONDS
            if deadline is not None and time.monotonic() > deadline:
                for left in children:
                    os.kill(left, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.1)
            continue
        children.discard(pid)
        if not stopping:
            log.error("smtp worker %d exited (status %d); stopping the agent", pid, status)
            code = 1
            stop(signal.SIGTERM, None)
    return code
