"""Django's password hashers behind a per-process cap on concurrent hash computations.

A password hash costs a fifth of a second of CPU on purpose (PBKDF2, 1,000,000
rounds). Without a cap, a handful of clients guessing passwords in parallel hold
every core and every login waits behind them; with it, at most
``MAILAPP_AUTH_HASH_CONCURRENCY`` hashes run at once in a process (an agent, a web
worker) and the rest queue for their turn, leaving the other cores to mail. The
login guard (``agents.loginguard``) refuses a locked-out guesser before it gets here.

Each class has its stock counterpart's ``algorithm`` name and parameters, so the
stored hashes are the same and nothing is re-hashed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import hashers

T = TypeVar("T")

_setup = threading.Lock()
_gate: threading.BoundedSemaphore | None = None
_local = threading.local()  # depth: PBKDF2's verify() calls encode(); the gate is taken once
_counts = threading.Lock()
running = 0
peak = 0  # the most hashes seen running at once in this process (tests read it)
computed = 0  # hashes computed in this process (tests read it)


def _semaphore() -> threading.BoundedSemaphore:
    global _gate
    with _setup:
        if _gate is None:
            _gate = threading.BoundedSemaphore(max(1, int(settings.MAILAPP_AUTH_HASH_CONCURRENCY)))
        return _gate


def set_concurrency(limit: int) -> None:
    """Size the cap anew (tests; settings are read once per process otherwise)."""
    global _gate, peak
    with _setup:
        _gate = threading.BoundedSemaphore(max(1, limit))
    with _counts:
        peak = 0


@contextlib.contextmanager
def slot() -> Iterator[None]:
    """Hold one of the slots while the block runs (waiting for one first); re-entrant in a thread.

    For work that decides inside the slot whether to hash at all (the auth service asks the
    login guard once more after its wait): only a hash actually computed counts in ``computed``.
    """
    global running, peak
    if getattr(_local, "depth", 0):
        yield
        return
    with _semaphore():
        _local.depth, _local.counted = 1, False
        with _counts:
            running += 1
            peak = max(peak, running)
        try:
            yield
        finally:
            with _counts:
                running -= 1
            _local.depth = 0


def gated(work: Callable[[], T]) -> T:
    """Run ``work`` (one hash computation) when a slot is free; blocks the calling thread meanwhile."""
    global computed
    with slot():
        if not _local.counted:  # PBKDF2's verify() calls encode(): one hash, counted once
            _local.counted = True
            with _counts:
                computed += 1
        return work()


class _Gated:
    def encode(self, password: str, salt: str, *args: Any, **kwargs: Any) -> str:
        return gated(lambda: super(_Gated, self).encode(password, salt, *args, **kwargs))  # type: ignore[misc]

    def verify(self, password: str, encoded: str) -> bool:
        return gated(lambda: super(_Gated, self).verify(password, encoded))  # type: ignore[misc]


class MD5PasswordHasher(_Gated, hashers.MD5PasswordHasher):
    """Only for the test suite's fast hasher (``MAILAPP_TEST_FAST_HASHER``): gated and counted like the rest."""


class PBKDF2PasswordHasher(_Gated, hashers.PBKDF2PasswordHasher):
    pass


class PBKDF2SHA1PasswordHasher(_Gated, hashers.PBKDF2SHA1PasswordHasher):
    pass


class Argon2PasswordHasher(_Gated, hashers.Argon2PasswordHasher):
    pass


class BCryptSHA256PasswordHasher(_Gated, hashers.BCryptSHA256PasswordHasher):
    pass


class ScryptPasswordHasher(_Gated, hashers.ScryptPasswordHasher):
    pass

