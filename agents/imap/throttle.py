"""Failed-login throttling per client IP, shared by all sessions of one server."""

from __future__ import annotations

import threading
import time


class Throttle:
    """After ``max_failures`` failed logins from one IP within ``lockout`` seconds, refuse logins from it."""

    def __init__(self, max_failures: int = 5, lockout: float = 300.0) -> None:
        self.max_failures = max_failures
        self.lockout = lockout
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, ip: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(ip, []) if now - t < self.lockout]
        if times:
            self._failures[ip] = times
        else:
            self._failures.pop(ip, None)
        return times

    def blocked(self, ip: str) -> bool:
        with self._lock:
            return len(self._recent(ip, time.monotonic())) >= self.max_failures

    def failed(self, ip: str) -> None:
        with self._lock:
            now = time.monotonic()
            times = self._recent(ip, now)
            times.append(now)
            self._failures[ip] = times[-self.max_failures * 2 :]
            if len(self._failures) > 100_000:  # bound memory under a spray of addresses
                self._failures.clear()

    def succeeded(self, ip: str) -> None:
        with self._lock:
            self._failures.pop(ip, None)
