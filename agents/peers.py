"""The client at the other end of a protocol connection: is it this host, and how many sessions it holds.

Every listener (SMTP, IMAP, POP3, ManageSieve) asks the same two questions of a new
connection's address. The session count is in memory, per process (like Postfix's
anvil): a restart forgets it, which only ever frees a client. Failed logins are the
login guard's (``agents.loginguard``), shared by every process and door.

Pure: no Django, no I/O.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import defaultdict


@functools.lru_cache(maxsize=1024)
def is_loopback(host: str) -> bool:
    """True for a loopback address (``127.0.0.0/8``, ``::1``; a ``%zone`` suffix is ignored), False
    for any other address and for text that is none. Kept per address: parsed by ``ipaddress``
    once, not for every connection (dev mode asks it of each one)."""
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class PeerLimits:
    """Concurrent sessions per client address, capped at ``max_sessions`` (0: no cap)."""

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
