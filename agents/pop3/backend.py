"""The POP3 agent's link to the rest of the appliance: agents.config for logins, agents.store for mail.

The only module of agents.pop3 that touches Django (through agents.config).
Both calls block (password hashing, SQLite), so they run in worker threads.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agents import authsvc, config
from agents.cluster.placement import served_elsewhere

from .maildrop import StoreMaildrop
from .session import MaildropElsewhere


class StoreBackend:
    """Implements :class:`agents.pop3.session.Backend` with agents.config and an agents.store ``Store``."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def authenticate(self, user: str, password: str) -> str | None:
        info = await asyncio.to_thread(_authenticate, user, password)
        return info.address if info is not None else None

    async def open_maildrop(self, address: str) -> StoreMaildrop:
        return await asyncio.to_thread(_open, self.store, address)


def _open(store: Any, address: str) -> StoreMaildrop:
    """The maildrop, on the mailbox's home node only (cluster mode): another node's store is not its."""
    elsewhere = served_elsewhere(address)
    if elsewhere:
        raise MaildropElsewhere(elsewhere)
    return StoreMaildrop.open(store, address)


def _authenticate(user: str, password: str) -> config.MailboxInfo | None:
    from django.db import close_old_connections

    try:
        relayed = config.relayed_login(user, password, "pop3")  # a trusted mail proxy's one-time token
        if relayed is not False:
            return relayed if isinstance(relayed, config.MailboxInfo) else None
        return authsvc.authenticate(user, password, "pop3")
    finally:
        close_old_connections()
