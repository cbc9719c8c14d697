"""A cap on concurrent password hashes per process: guessers queue instead of taking every core."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password

from mailappliance import hashers


@pytest.fixture
def cap_of_one() -> Iterator[None]:
    hashers.set_concurrency(1)
    yield
    hashers.set_concurrency(settings.MAILAPP_AUTH_HASH_CONCURRENCY)


def test_every_configured_hasher_is_behind_the_cap():
    from django.contrib.auth.hashers import get_hashers

    assert all(isinstance(h, hashers._Gated) for h in get_hashers())


def test_a_hash_waits_while_the_only_slot_is_taken(cap_of_one):
    encoded = make_password("secret")
    release, held, done = threading.Event(), threading.Event(), threading.Event()
    results: list[bool] = []

    def occupy() -> None:
        hashers.gated(lambda: (held.set(), release.wait(10)))

    def login() -> None:
        results.append(check_password("secret", encoded))
        done.set()

    holder = threading.Thread(target=occupy)
    holder.start()
    assert held.wait(10)
    checker = threading.Thread(target=login)
    checker.start()
    try:
        assert not done.wait(0.3)  # queued behind the slot's holder
    finally:
        release.set()
        holder.join(10)
        checker.join(10)
    assert done.is_set() and results == [True]
    assert hashers.peak == 1

