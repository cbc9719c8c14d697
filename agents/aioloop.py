"""The event loop the mail-protocol agents run on: uvloop, the asyncio API with the loop written in C.

A POP3 RETR or an IMAP FETCH of one message is a few loop turns around one file
read, so the loop's own cost is a large part of a command's CPU; uvloop takes
about a third off a POP3 download session (bench/pop3.py, docs/pop3.md).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any


def run(main: Coroutine[Any, Any, Any]) -> Any:
    """Run ``main`` to completion on a new uvloop event loop (like ``asyncio.run``)."""
    import uvloop

    return uvloop.run(main)


def stop_on_signals() -> asyncio.Event:
    """An event that SIGTERM or SIGINT sets: what an agent process serves until (call it on its loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
