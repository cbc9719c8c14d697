"""Group commits of several mailboxes at once, each on a thread of its own.

A delivery batch spread over many mailboxes (100 mailboxes round-robin: a batch of
50 meets about 50 of them) pays, per mailbox, its files' fsync, a directory fsync and
a durable index commit. One mailbox after another, those are 150 fsyncs in a row, each
waiting for its own journal commit. Run side by side, the file system folds them into
a few journal commits: the batch waits about as long as for one mailbox.

A mailbox always goes to the same thread (by a hash of its address), so its index
connection, which is per thread (``index.open_index``), stays open from one batch to
the next instead of being opened by whichever thread is free. Each thread keeps fewer
connections than the default (``CONNECTIONS_PER_THREAD``), and the soft limit on open
files is raised: the threads together must not run a worker out of file descriptors.

What a job opens on its thread beyond the index (in cluster mode, the move guard's database
connection, which Django keeps per thread) would stay open for the life of the process:
:func:`when_idle` hooks run on a thread once it has had no job for ``IDLE_AFTER`` seconds, so
an idle worker holds no database connections for its commit threads.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import resource
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from typing import TypeVar

from . import index

T = TypeVar("T")
log = logging.getLogger(__name__)

THREADS = 8
CONNECTIONS_PER_THREAD = 32  # 8 threads x 32 indexes x 3 descriptors: 768, beside the caller's own 128 x 3
FILES_WANTED = 4096  # the soft limit on open files is raised to this (if the hard limit allows)

IDLE_AFTER = 30.0  # seconds without a job before a thread runs the idle hooks

_pools: list[concurrent.futures.ThreadPoolExecutor] = []
_pools_pid = 0
_lock = threading.Lock()
_idle_hooks: list[Callable[[], None]] = []
_last_job: dict[int, float] = {}  # pool number -> when its last job ended (monotonic)
_timers: dict[int, threading.Timer] = {}  # pool number -> its armed idle check


def when_idle(hook: Callable[[], None]) -> None:
    """Run ``hook`` on each commit thread that has been idle ``IDLE_AFTER`` seconds since its last job
    (once per idle spell): to release what a job opened on that thread, such as a per-thread
    database connection. A hook that raises is logged and does not stop the others."""
    with _lock:
        if hook not in _idle_hooks:
            _idle_hooks.append(hook)


def _threads() -> list[concurrent.futures.ThreadPoolExecutor]:
    global _pools, _pools_pid
    with _lock:
        if _pools_pid != os.getpid():  # none yet, or inherited over fork (threads do not survive it)
            _pools = [concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"store-commit-{n}",
                                                            initializer=index.limit_open,
                                                            initargs=(CONNECTIONS_PER_THREAD,))
                      for n in range(THREADS)]
            _pools_pid = os.getpid()
            _last_job.clear()
            _timers.clear()  # a parent's timers did not survive the fork either
            _more_files()
        return _pools


def _more_files() -> None:
    """Raise the soft limit on open files (often 1024) towards ``FILES_WANTED``: the threads' index connections
    and the caller's may together come near 1024."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = FILES_WANTED if hard == resource.RLIM_INFINITY else min(FILES_WANTED, hard)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (OSError, ValueError):
        pass  # a container may forbid it: the connections then close sooner (index.MAX_OPEN is the bound)


def per_mailbox(jobs: Sequence[tuple[str, Callable[[], T]]]) -> list[T | Exception]:
    """Run each ``(mailbox address, job)`` on that mailbox's thread, all at once; the results in order.

    A job that raises gives its exception as its result (the others go on). One job
    runs in the calling thread: nothing to overlap it with. Two jobs of one mailbox
    would run one after the other on its thread; callers give one job per mailbox.
    """
    if len(jobs) <= 1:
        return [_call(job) for _, job in jobs]
    pools = _threads()
    numbers = [zlib.crc32(mailbox.lower().encode()) % len(pools) for mailbox, _ in jobs]
    futures = [pools[n].submit(_call_on, n, job) for n, (_, job) in zip(numbers, jobs, strict=True)]
    results = [future.result() for future in futures]
    if _idle_hooks:
        for n in set(numbers):
            _arm(n, IDLE_AFTER)
    return results


def _call(job: Callable[[], T]) -> T | Exception:
    try:
        return job()
    except Exception as exc:  # the caller decides (a delivery defers that mailbox's copies)
        return exc


def _call_on(number: int, job: Callable[[], T]) -> T | Exception:
    try:
        return _call(job)
    finally:
        _last_job[number] = time.monotonic()


def _arm(number: int, delay: float) -> None:
    """Check pool ``number`` for idleness in ``delay`` seconds (one timer per pool at a time)."""
    with _lock:
        if number in _timers:
            return
        timer = threading.Timer(delay, _check_idle, (number, os.getpid()))
        timer.daemon = True
        _timers[number] = timer
    timer.start()


def _check_idle(number: int, pid: int) -> None:
    with _lock:
        if pid != _pools_pid:  # the pools were made again (after a fork): not this timer's business
            return
        _timers.pop(number, None)
        pool = _pools[number]
    left = _last_job.get(number, 0.0) + IDLE_AFTER - time.monotonic()
    if left > 0:  # a job ran meanwhile: look again when this spell could be long enough
        _arm(number, left)
        return
    try:
        pool.submit(_run_idle_hooks, number)
    except RuntimeError:  # the pool is shut down (interpreter exit)
        pass


def _run_idle_hooks(number: int) -> None:
    """On the thread itself: what a hook closes is that thread's own (Django's connections are per thread)."""
    if time.monotonic() - _last_job.get(number, 0.0) < IDLE_AFTER:
        return  # a job came in between the check and now: its batch will arm a new check
    for hook in list(_idle_hooks):
        try:
            hook()
        except Exception:  # a hook's failure must not stop the others or the thread
            log.exception("a commit thread's idle hook failed")
