"""The policy's view of the configuration, answered by ``agents.config`` and the store.

Synchronous (Django ORM), so the handler asks from a worker thread. Answers are
also kept so that the next session asking the same question can be answered on
the event loop without a thread hop (:meth:`ConfigDirectory.cached`): the
configuration's answers (recipient kind, local domain, quota) until the
configuration generation moves (``agents.config`` re-reads it every
``MAILAPP_CONFIG_REFRESH`` seconds, 0.5 by default, and the agent asks it to even
when every answer comes from here: ``SmtpServer``), so a change still reaches the
agent within 2 s; a mailbox's usage (the store's, not configuration) for
``USAGE_CACHE_SECONDS``. The mailboxes whose usage was read stay open until the
generation moves (reading an open one's usage is one query of its index).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from agents import config
from agents.cluster import usage
from mailcore.quota import Shortfall, shortfall

from .policy import CacheMiss, RecipientKind

log = logging.getLogger(__name__)

USAGE_CACHE_SECONDS = 2.0
MAX_ENTRIES = 20000
MAX_OPEN_MAILBOXES = 1000


class _Answers:
    """A small map shared by the worker threads and the event loop. An answer holds for ``ttl``
    seconds, or (``ttl`` None) while the configuration generation is the one it was computed
    under."""

    def __init__(self, ttl: float | None) -> None:
        self.ttl = ttl
        self._data: dict[tuple, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _stamp(self) -> float:
        return float(config.generation()) if self.ttl is None else time.monotonic()

    def get(self, key: tuple) -> Any:
        with self._lock:
            hit = self._data.get(key)
        if hit is None:
            raise CacheMiss(key)
        if self.ttl is None:
            if hit[0] != self._stamp():
                raise CacheMiss(key)
        elif time.monotonic() - hit[0] > self.ttl:
            raise CacheMiss(key)
        return hit[1]

    def put(self, key: tuple, value: Any, stamp: float) -> Any:
        with self._lock:
            if len(self._data) > MAX_ENTRIES:
                self._data.clear()
            self._data[key] = (stamp, value)
        return value

    def remember(self, key: tuple, compute: Callable[[], Any]) -> Any:
        try:
            return self.get(key)
        except CacheMiss:
            # Stamped with the generation seen before computing: an answer computed while the
            # generation moved is not kept under the new one.
            stamp = self._stamp()
            return self.put(key, compute(), stamp)


class ConfigDirectory:
    def __init__(self) -> None:
        self._answers = _Answers(None)
        self._usage = _Answers(USAGE_CACHE_SECONDS)
        self._opened: dict[str, Any] = {}  # address -> MailboxStore, for usage
        self._opened_under = -1
        self._opened_lock = threading.Lock()

    def _mailbox_usage(self, address: str) -> int | None:
        """Bytes stored in ``address``'s mailbox, or None while the store cannot tell."""
        generation = config.generation()
        with self._opened_lock:
            if generation != self._opened_under or len(self._opened) > MAX_OPEN_MAILBOXES:
                self._opened, self._opened_under = {}, generation  # a mailbox may have gone or moved
            opened = self._opened
        try:
            # cluster mode: a mailbox homed elsewhere is read from the database
            return usage.of(address, opened)
        except Exception:  # a store problem must not refuse mail at RCPT: delivery enforces quota too
            log.exception("could not read the usage of %s", address)
            opened.pop(address, None)
            return None

    def cached(self) -> CachedDirectory:
        return CachedDirectory(self)

    def recipient_kind(self, address: str) -> RecipientKind:
        return self._answers.remember(("kind", address.lower()), lambda: config.recipient_kind(address))

    def is_local_domain(self, domain: str) -> bool:
        return self._answers.remember(("local", domain.lower()), lambda: config.is_local_domain(domain))

    def quota(self, address: str) -> tuple[str, int] | None:
        """(canonical address, quota in bytes) of a mailbox with a quota, else None."""

        def compute() -> tuple[str, int] | None:
            mailbox = config.get_mailbox(address)
            return (mailbox.address, mailbox.quota) if mailbox is not None and mailbox.quota else None

        return self._answers.remember(("quota", address.lower()), compute)

    def usage(self, canonical: str) -> int | None:
        return self._usage.remember(("usage", canonical), lambda: self._mailbox_usage(canonical))

    def over_quota(self, address: str, incoming: int) -> Shortfall | None:
        """Why the mailbox cannot take ``incoming`` more bytes (quota used up, or too little left), else None."""
        quota = self.quota(address)
        if quota is None:
            return None
        usage = self.usage(quota[0])
        return None if usage is None else shortfall(usage, quota[1], incoming)


class CachedDirectory:
    """The same questions, answered only from fresh cached answers (raises :class:`CacheMiss`).

    Safe on the event loop: no database, no disk.
    """

    def __init__(self, directory: ConfigDirectory) -> None:
        self._d = directory

    def recipient_kind(self, address: str) -> RecipientKind:
        return self._d._answers.get(("kind", address.lower()))

    def is_local_domain(self, domain: str) -> bool:
        return self._d._answers.get(("local", domain.lower()))

    def over_quota(self, address: str, incoming: int) -> Shortfall | None:
        quota = self._d._answers.get(("quota", address.lower()))
        if quota is None:
            return None
        usage = self._d._usage.get(("usage", quota[0]))
        return None if usage is None else shortfall(usage, quota[1], incoming)
