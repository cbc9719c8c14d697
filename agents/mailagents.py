"""The mail agents in one process: smtp, imap, pop3 and managesieve on one event loop (the small profile).

Each protocol keeps its own server object, listeners and sessions, exactly as in its own
process (``manage.py smtpd``, ``imapd``, ``pop3d``); only the interpreter, Django and the
libraries are paid for once. Crash isolation stays a process restart: if one protocol's
server fails, the process logs which one and exits non-zero, and the supervisor restarts
it with the others, which come back in the same restart (a second or so).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from agents import aioloop

log = logging.getLogger("agents.mailagents")

PROTOCOLS = ("smtp", "imap", "pop3", "managesieve")


async def _smtp(stop: asyncio.Event) -> None:
    from agents.smtp.server import config_from_settings, serve
    from agents.tls import settings_server_context

    # aiosmtpd logs every command line at INFO: too chatty (and slow) for an MX.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    await serve(config_from_settings(), stop, settings_server_context())


async def _imap(stop: asyncio.Event) -> None:
    from django.conf import settings

    from agents.imap.service import build_server

    server = build_server()
    bound = await server.start(settings.MAILAPP_BIND, settings.MAILAPP_IMAP_PORT, settings.MAILAPP_IMAPS_PORT)
    log.info("imap listening on %s ports %s", settings.MAILAPP_BIND, bound)
    try:
        await stop.wait()
    finally:
        await server.close()


async def _pop3(stop: asyncio.Event) -> None:
    from agents.pop3.runner import build_server

    await _until(stop, build_server())


async def _managesieve(stop: asyncio.Event) -> None:
    from agents.managesieve.runner import build_server

    await _until(stop, build_server())


async def _until(stop: asyncio.Event, server: Any) -> None:
    """Serve with ``server`` (``start()``, ``stop()``) until ``stop`` is set."""
    await server.start()
    try:
        await stop.wait()
    finally:
        await server.stop()


SERVERS: dict[str, Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = {
    "smtp": _smtp, "imap": _imap, "pop3": _pop3, "managesieve": _managesieve}


async def serve(protocols: tuple[str, ...] | list[str], stop: asyncio.Event) -> int:
    """Run the servers of ``protocols`` until ``stop`` is set; 0, or 1 if one of them failed.

    A server that fails (at start, e.g. a port taken, or later) stops the others: the
    process then exits and the supervisor restarts the whole set.
    """
    loop = asyncio.get_running_loop()
    # Sessions wait on threads for lookups, password checks, store reads and queue commits;
    # the default pool (cores + 4) would cap SMTP's group commit at a handful of messages.
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="agents"))
    tasks: dict[asyncio.Task[None], str] = {
        asyncio.create_task(SERVERS[name](stop), name=name): name for name in protocols
    }
    failed = 0
    pending = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if not stop.is_set():  # a server ended on its own: a crash, whatever it says
                log.error("%s agent failed; stopping the mail agents so the supervisor restarts them",
                          tasks[task], exc_info=error)  # fmt: skip
                failed = 1
                stop.set()
            elif error is not None:
                log.error("%s agent failed while stopping", tasks[task], exc_info=error)
                failed = 1
    return failed


def run(protocols: tuple[str, ...] | list[str] = PROTOCOLS) -> int:
    """The process entry point: serve until SIGTERM or SIGINT; the exit code."""
    from agents.smtp.server import run_loop

    code = 0

    async def main() -> None:
        nonlocal code
        code = await serve(protocols, aioloop.stop_on_signals())

    run_loop(main())
    return code
