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
"""

from __future__ import annotations

import concurrent.futures
import os
import resource
import threading
import zlib
from collections.abc import Callable, Sequence
from typing import TypeVar

from . import index

T = TypeVar("T")

THREADS = 8
CONNECTIONS_PER_THREAD = 32  # 8 threads x 32 indexes x 3 descriptors: 768, beside the caller's own 128 x 3
FILES_WANTED = 4096  # the soft limit on open files is raised to this (if the hard limit allows)

_pools: list[concurrent.futures.ThreadPoolExecutor] = []
_pools_pid = 0
_lock = threading.Lock()


def _threads() -> list[concurrent.futures.ThreadPoolExecutor]:
    global _pools, _pools_pid
    with _lock:
        if _pools_pid != os.getpid():  # none yet, or inherited over fork (threads do not survive it)
            _pools = [concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"store-commit-{n}",
                                                            initializer=index.limit_open,
                                                            initargs=(CONNECTIONS_PER_THREAD,))
                      for n in range(THREADS)]
            _pools_pid = os.getpid()
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
    futures = [pools[zlib.crc32(mailbox.lower().encode()) % len(pools)].submit(_call, job) for mailbox, job in jobs]
    return [future.result() for future in futures]


def _call(job: Callable[[], T]) -> T | Exception:
    try:
        return job()
    except Exception as exc:  # the caller decides (a delivery defers that mailbox's copies)
        return exc
