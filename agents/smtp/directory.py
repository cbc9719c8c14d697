"""The policy's view of the configuration, answered by ``agents.config`` and the store.

Synchronous (Django ORM): the handler calls the policy through ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
import threading
import time

from agents import config

from .policy import RecipientKind

log = logging.getLogger(__name__)

USAGE_CACHE_SECONDS = 2.0


def _mailbox_usage(address: str) -> int | None:
    """Bytes stored in ``address``'s mailbox, or None while the store is not available."""
    try:
        from agents.store import default_store
    except ImportError:  # the store lands separately; until then quota is not enforced here
        return None
    try:
        return int(default_store().mailbox(address).usage())
    except Exception:  # a store problem must not refuse mail at RCPT: delivery enforces quota too
        log.exception("could not read the usage of %s", address)
        return None


class ConfigDirectory:
    def __init__(self) -> None:
        self._usage: dict[str, tuple[float, int | None]] = {}
        self._lock = threading.Lock()

    def recipient_kind(self, address: str) -> RecipientKind:
        return config.recipient_kind(address)

    def is_local_domain(self, domain: str) -> bool:
        return config.is_local_domain(domain)

    def may_send_as(self, user: str, sender: str) -> bool:
        return config.may_send_as(user, sender)

    def over_quota(self, address: str, incoming: int) -> bool:
        """True if the mailbox has a quota and it is used up (or ``incoming`` bytes would pass it)."""
        mailbox = config.get_mailbox(address)
        if mailbox is None or not mailbox.quota:
            return False
        now = time.monotonic()
        with self._lock:
            cached = self._usage.get(mailbox.address)
        if cached is None or now - cached[0] > USAGE_CACHE_SECONDS:
            cached = (now, _mailbox_usage(mailbox.address))
            with self._lock:
                if len(self._usage) > 10000:
                    self._usage.clear()
                self._usage[mailbox.address] = cached
        usage = cached[1]
        if usage is None:
            return False
        return usage >= mailbox.quota or usage + incoming > mailbox.quota
