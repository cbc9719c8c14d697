"""The verified-credential cache of an agent, like Dovecot's auth cache (no Django here).

After a password check succeeds, ``agents.config.authenticate`` remembers a keyed
hash of (login, service, password) for a few minutes, so a mail client's next
login (IMAP clients open several connections, POP3 clients poll every few
minutes) costs a BLAKE2b instead of a PBKDF2 of a million rounds.

What it holds and what it never holds:
- the key of each entry is BLAKE2b keyed with 32 random bytes made when the
  process starts and never written anywhere; the password itself is never kept;
- only successes are stored: a wrong password is never remembered, so it
  always reaches the real check (and the login guard in front of it);
- the owner drops everything with :meth:`clear` when the configuration change
  counter moves (a password, an active flag, a service right, an app password).

``login_peer`` carries the client address of the login being checked from the
protocol session to ``agents.config`` (to record an app password's last use)
without widening ``authenticate``'s signature; ``login_via_proxy`` says the same way that the
connection came from a trusted mail proxy.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")

login_peer: ContextVar[str] = ContextVar("login_peer", default="")
# True on a connection from a trusted mail proxy (agents.proxyprotocol): only there may the password
# be the proxy's one-time token (agents.proxylogin) instead of the user's.
login_via_proxy: ContextVar[bool] = ContextVar("login_via_proxy", default=False)


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    until: float


class VerifiedCache(Generic[V]):
    """Successful credentials, by keyed digest, for ``ttl`` seconds (0 = cache nothing).

    Thread-safe. ``clock`` is injectable for tests. At most ``max_entries`` are
    kept; beyond that the oldest go first.
    """

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 50_000) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, _Entry[V]] = {}
        self._lock = threading.Lock()

    def digest(self, login: str, service: str, password: str) -> bytes:
        """The keyed digest an entry for these credentials is stored under (never reversible to them)."""
        return self._digest(login, service, password)

    def _digest(self, login: str, service: str, password: str) -> bytes:
        digest = hashlib.blake2b(key=self._key, digest_size=32, person=b"mailapp-auth")
        for part in (login, service, password):
            data = part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(4, "big"))  # length-prefixed: no two tuples share a byte string
            digest.update(data)
        return digest.digest()

    def get(self, login: str, service: str, password: str) -> V | None:
        """The value stored for these exact credentials, if they passed within the TTL."""
        if self.ttl <= 0:
            return None
        key = self._digest(login, service, password)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.until <= self.clock():
                del self._entries[key]
                return None
            return entry.value

    def put(self, login: str, service: str, password: str, value: V, until: float | None = None) -> None:
        """Remember a success until ``min(now + ttl, until)`` (``until`` on the same clock)."""
        if self.ttl <= 0:
            return
        now = self.clock()
        expiry = now + self.ttl if until is None else min(now + self.ttl, until)
        if expiry <= now:
            return
        key = self._digest(login, service, password)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._evict(now)
            self._entries[key] = _Entry(value, expiry)

    def _evict(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if e.until <= now]:
            del self._entries[key]
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # dicts keep insertion order: the oldest

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
