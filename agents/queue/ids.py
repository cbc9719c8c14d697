"""Queue ids: sortable by time, unique across hosts, safe in file names."""

from __future__ import annotations

import hashlib
import secrets
import time

ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZ"  # no vowels: ids never spell words


def _encode(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, digit = divmod(number, len(ALPHABET))
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def new_queue_id() -> str:
    """A 20-character id: 12 for the time in microseconds, 8 random."""
    return _encode(time.time_ns() // 1000, 12) + _encode(secrets.randbits(40), 8)


def derived_queue_id(parent: str, purpose: str) -> str:
    """A deterministic id for a message made from another (forward, bounce, auto-reply).

    Retrying the delivery that makes it finds the same id, so it is queued once.
    """
    digest = int.from_bytes(hashlib.sha256(f"{parent}\0{purpose}".encode()).digest()[:8], "big")
    return parent[:12] + _encode(digest, 8)
