"""An asyncio mail server (POP3, IMAP, ManageSieve) served on a thread of its own, so a test can talk
to it with a real client from the test's thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def serving(server: Any, name: str = "test-server") -> Iterator[asyncio.AbstractEventLoop]:
    """Start ``server`` on a new event loop in a thread; stop it (2 s grace) and the loop after."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    assert ready.wait(10), f"{name} did not start"
    try:
        yield loop
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(grace=2), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
