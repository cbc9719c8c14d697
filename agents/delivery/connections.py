"""A small per-process cache of idle SMTP client connections, one pool per destination.

A worker sending many messages to one MX host reuses its session (checked with
RSET) instead of paying TCP, EHLO and STARTTLS each time, as Postfix's
connection cache does. Connections idle longer than ``IDLE`` seconds or used
``MAX_USES`` times are closed.
"""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass

IDLE = 5.0
MAX_USES = 100


@dataclass
class _Idle:
    client: smtplib.SMTP
    since: float
    uses: int


def close(client: smtplib.SMTP) -> None:
    """QUIT politely, or just drop the socket."""
    try:
        client.quit()
    except Exception:
        try:
            client.close()
        except Exception:
            pass


class ConnectionCache:
    def __init__(self, idle: float = IDLE, max_uses: int = MAX_USES) -> None:
        self.idle, self.max_uses = idle, max_uses
        self._pools: dict[Hashable, list[_Idle]] = {}
        self._uses: dict[int, int] = {}
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> smtplib.SMTP | None:
        """A live idle connection for ``key`` (its RSET answered 250), or None."""
        self.expire()
        while True:
            with self._lock:
                pool = self._pools.get(key)
                if not pool:
                    return None
                entry = pool.pop()
            try:
                code, _ = entry.client.rset()
            except (OSError, smtplib.SMTPException):
                code = 0
            if code == 250:
                with self._lock:
                    self._uses[id(entry.client)] = entry.uses
                return entry.client
            close(entry.client)

    def give_back(self, key: Hashable, client: smtplib.SMTP) -> None:
        """Keep ``client`` for the next message to ``key`` (or close it when worn out)."""
        with self._lock:
            uses = self._uses.pop(id(client), 0) + 1
            if uses < self.max_uses:
                self._pools.setdefault(key, []).append(_Idle(client, time.monotonic(), uses))
                return
        close(client)

    def forget(self, client: smtplib.SMTP) -> None:
        with self._lock:
            self._uses.pop(id(client), None)

    def expire(self) -> None:
        """Close connections idle too long."""
        now = time.monotonic()
        stale: list[smtplib.SMTP] = []
        with self._lock:
            for key, pool in list(self._pools.items()):
                keep = [e for e in pool if now - e.since < self.idle]
                stale += [e.client for e in pool if now - e.since >= self.idle]
                if keep:
                    self._pools[key] = keep
                else:
                    del self._pools[key]
        for client in stale:
            close(client)

    def clear(self) -> None:
        with self._lock:
            pools, self._pools = self._pools, {}
            self._uses.clear()
        for pool in pools.values():
            for entry in pool:
                close(entry.client)


cache = ConnectionCache()
