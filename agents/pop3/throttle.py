"""Failed-login throttling per client IP: a growing delay, then a lockout.

Pure and in-memory (one per agent process): a guessing client meets a delay
after each failure and, after ``max_failures`` failures within the lockout
window, is refused outright until the window passes. Success clears the count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_TRACKED = 10_000  # bounded memory under a spray of source addresses


@dataclass
class _Record:
    failures: int = 0
    first: float = 0.0
    locked_until: float = 0.0


@dataclass
class LoginThrottle:
    max_failures: int
    lockout_seconds: float
    base_delay: float = 1.0
    max_delay: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _records: dict[str, _Record] = field(default_factory=dict)

    def locked(self, ip: str) -> bool:
        """True while ``ip`` is locked out after too many failures."""
        record = self._records.get(ip)
        return bool(record and record.locked_until > self.clock())

    def failure(self, ip: str) -> float:
        """Count a failed login; returns the delay (seconds) to wait before answering."""
        now = self.clock()
        record = self._records.get(ip)
        if record is None or now - record.first > self.lockout_seconds:
            if len(self._records) >= MAX_TRACKED:
                self._prune(now)
            record = self._records[ip] = _Record(first=now)
        record.failures += 1
        if record.failures >= self.max_failures:
            record.locked_until = now + self.lockout_seconds
        return min(self.max_delay, self.base_delay * record.failures)

    def success(self, ip: str) -> None:
        self._records.pop(ip, None)

    def _prune(self, now: float) -> None:
        window = self.lockout_seconds
        stale = [ip for ip, r in self._records.items() if r.locked_until <= now and now - r.first > window]
        for ip in stale:
            del self._records[ip]
        while len(self._records) >= MAX_TRACKED:  # still full: forget the oldest
            del self._records[next(iter(self._records))]
