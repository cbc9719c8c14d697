"""Ending the sessions of mailboxes this node must no longer serve (cluster mode: a move froze or
switched them; ``agents.cluster.move.evictions`` says which and why).

The IMAP and POP3 listeners keep the same watch: every :data:`EVICT_EVERY` seconds they list the
mailboxes their logged-in sessions hold, ask which of them must end (in a thread: the answer is
read from the database) and end those sessions their own way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from typing import TypeVar

EVICT_EVERY = 1.0  # seconds between checks for sessions of moved mailboxes

Session = TypeVar("Session", bound=Hashable)


async def evict_forever(evictions: Callable[[list[str]], dict[str, str]],
                        sessions: Callable[[], dict[Session, str]],
                        end: Callable[[Session, str], None], log: logging.Logger, name: str) -> None:
    """Until cancelled: every EVICT_EVERY seconds, ``end(session, reason)`` each of ``sessions()``
    (session → mailbox address) whose mailbox ``evictions`` names. A failed check (the database is
    away) is logged and tried again: the sessions go on meanwhile."""
    while True:
        await asyncio.sleep(EVICT_EVERY)
        users = sessions()
        if not users:
            continue
        try:
            reasons = await asyncio.to_thread(evictions, sorted(set(users.values())))
        except Exception as exc:  # the database is away: keep serving, ask again
            log.warning("%s: could not check for moved mailboxes: %s", name, exc)
            continue
        for session, address in users.items():
            if address in reasons:
                end(session, reasons[address])
