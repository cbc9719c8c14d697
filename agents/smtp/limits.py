"""Per-client counters: concurrent sessions and failed AUTH attempts, per IP.

In memory, per process (like Postfix's anvil): a restart forgets them, which
only ever frees a client. Pure apart from the clock, which tests may pass in.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable


class PeerLimits:
    def __init__(
        self,
        max_sessions: int,
        max_auth_failures: int,
        lockout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_sessions = max_sessions
        self.max_auth_failures = max_auth_failures
        self.lockout_seconds = lockout_seconds
        self._clock = clock
        self._sessions: dict[str, int] = defaultdict(int)
        self._failures: dict[str, deque[float]] = {}

    # --- sessions -------------------------------------------------------------------------
    def open_session(self, ip: str) -> bool:
        """Count a new session from ``ip``; False (and nothing counted) if it is one too many."""
        if self.max_sessions and self._sessions[ip] >= self.max_sessions:
            return False
        self._sessions[ip] += 1
        return True

    def close_session(self, ip: str) -> None:
        left = self._sessions.get(ip, 0) - 1
        if left > 0:
            self._sessions[ip] = left
        else:
            self._sessions.pop(ip, None)

    def sessions(self, ip: str) -> int:
        return self._sessions.get(ip, 0)

    # --- authentication failures ---------------------------------------------------------
    def _recent(self, ip: str) -> deque[float]:
        """Failures of ``ip`` within the lockout window (older ones forgotten)."""
        failures = self._failures.get(ip)
        if failures is None:
            return deque()
        horizon = self._clock() - self.lockout_seconds
        while failures and failures[0] < horizon:
            failures.popleft()
        if not failures:
            del self._failures[ip]
        return failures

    def locked_out(self, ip: str) -> bool:
        """True while ``ip`` has had ``max_auth_failures`` failures within the lockout window."""
        return bool(self.max_auth_failures) and len(self._recent(ip)) >= self.max_auth_failures

    def auth_failed(self, ip: str) -> None:
        failures = self._failures.setdefault(ip, deque())
        failures.append(self._clock())
        while len(failures) > max(self.max_auth_failures, 1):
            failures.popleft()

    def auth_succeeded(self, ip: str) -> None:
        self._failures.pop(ip, None)
