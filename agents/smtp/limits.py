"""Per-client counter of concurrent sessions, per IP.

In memory, per process (like Postfix's anvil): a restart forgets it, which
only ever frees a client. Failed AUTH attempts are the login guard's
(``agents.loginguard``), shared by every process and door.
"""

from __future__ import annotations

from collections import defaultdict


class PeerLimits:
    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self._sessions: dict[str, int] = defaultdict(int)

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
