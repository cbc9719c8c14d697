"""Rejections counted in memory and written to the traffic counters in batches.

Writing a row per refused RCPT would let a hostile client turn every bad command
into a database write; the server flushes this tally every couple of seconds.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class RejectTally:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = 0

    def hit(self) -> None:
        with self._lock:
            self._pending += 1

    def flush(self) -> int:
        """Add what was counted to ``counters.count("rejected")``; returns how many (sync, ORM)."""
        with self._lock:
            amount, self._pending = self._pending, 0
        if not amount:
            return 0
        from agents.queue.counters import count

        try:
            count("rejected", amount)
        except Exception:
            log.exception("could not record %d rejections", amount)
            with self._lock:
                self._pending += amount
            return 0
        return amount
