"""An asyncio mail server (SMTP, POP3, IMAP, ManageSieve) served on a thread of its own, so a test can
talk to it with a real client from the test's thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def loop_thread(name: str = "test-loop", *, loop: asyncio.AbstractEventLoop | None = None,
                workers: int | None = None) -> Iterator[asyncio.AbstractEventLoop]:
    """A new event loop (or ``loop``) running on a daemon thread; stopped, joined and closed after.

    ``workers`` gives the loop a default executor of that many threads, as the agents do, and waits
    for them at the end (the loop's own executor is left to ``loop.close()``, which does not wait)."""
    loop = loop or asyncio.new_event_loop()
    if workers is not None:
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=workers))
    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        if workers is not None:
            call(loop, loop.shutdown_default_executor())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def call(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, T], timeout: float = 10) -> T:
    """Run ``work`` on ``loop`` (running on another thread) and return its result."""
    return asyncio.run_coroutine_threadsafe(work, loop).result(timeout)


@contextlib.contextmanager
def serving(server: Any, name: str = "test-server", **options: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """Start ``server`` (``start()``, ``stop(grace)``) on a :func:`loop_thread`; stop it (2 s grace) after."""
    with loop_thread(name, **options) as loop:
        call(loop, server.start())
        try:
            yield loop
        finally:
            call(loop, server.stop(grace=2))
