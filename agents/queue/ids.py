"""Queue ids: sortable by time, unique across hosts, safe in file names."""

from __future__ import annotations

import hashlib
import os
import secrets
import time

ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZ"  # no vowels: ids never spell words


_BASE = len(ALPHABET)
_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]  # two digits at a time: half the divisions


def _encode(number: int, width: int) -> str:
    """``number`` in ``width`` digits of ``ALPHABET`` (the most significant first, cut to ``width``)."""
    out = []
    for _ in range(width // 2):
        number, pair = divmod(number, _BASE * _BASE)
        out.append(_PAIRS[pair])
    if width % 2:
        out.append(ALPHABET[number % _BASE])
    return "".join(reversed(out))


_random = secrets.SystemRandom()
_pool: list[int] = []
os.register_at_fork(after_in_child=_pool.clear)  # a forked worker must not draw its parent's numbers


def _random_40() -> int:
    """40 random bits from the system's generator, drawn 25 ids at a time (one ``getrandom``
    call per 25 messages instead of one each)."""
    if not _pool:
        block = _random.getrandbits(1000)
        _pool.extend((block >> (40 * n)) & 0xFF_FFFF_FFFF for n in range(25))
    try:
        return _pool.pop()
    except IndexError:  # another thread took the last one meanwhile
        return _random.getrandbits(40)


def new_queue_id() -> str:
    """A 20-character id: 12 for the time in microseconds, 8 random."""
    return _encode(time.time_ns() // 1000, 12) + _encode(_random_40(), 8)


def derived_queue_id(parent: str, purpose: str) -> str:
    """A deterministic id for a message made from another (forward, bounce, auto-reply).

    Retrying the delivery that makes it finds the same id, so it is queued once.
    """
    digest = int.from_bytes(hashlib.sha256(f"{parent}\0{purpose}".encode()).digest()[:8], "big")
    return parent[:12] + _encode(digest, 8)
