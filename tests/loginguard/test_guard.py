"""The login guard's decisions, on its in-memory store with an injected clock (no Django, no network)."""

from __future__ import annotations

from agents.loginguard import GuardPolicy, LoginGuard, MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def guard(clock: Clock, **policy) -> LoginGuard:
    return LoginGuard(MemoryStore(), GuardPolicy(**policy), clock=clock)


def test_the_delay_doubles_from_two_to_eight_seconds():
    g = guard(Clock(), max_failures=0)
    assert [g.failed("192.0.2.1", "alice@example.com", "imap") for _ in range(5)] == [2, 4, 8, 8, 8]


def test_an_address_is_refused_for_an_account_after_max_failures_until_the_window_passes():
    clock = Clock()
    g = guard(clock, max_failures=3, window=60)
    for _ in range(3):
        assert g.check("192.0.2.1", "alice@example.com").allowed
        g.failed("192.0.2.1", "alice@example.com", "pop3")
    verdict = g.check("192.0.2.1", "Alice@Example.com")
    assert not verdict.allowed and verdict.reason == "address" and 0 < verdict.retry_after <= 60
    assert g.check("192.0.2.2", "alice@example.com").allowed  # another client still gets in
    clock.now += 61
    assert g.check("192.0.2.1", "alice@example.com").allowed


def test_an_address_guessing_many_accounts_is_refused_for_all():
    g = guard(Clock(), max_failures=2)
    for n in range(8):  # 4 × max_failures, one try per account
        g.failed("192.0.2.1", f"user{n}@example.com", "smtp")
    assert not g.check("192.0.2.1", "bob@example.com").allowed


def test_a_success_forgives_the_address_its_failures_for_that_account():
    g = guard(Clock(), max_failures=2)
    g.failed("192.0.2.1", "alice@example.com", "imap")
    g.succeeded("192.0.2.1", "alice@example.com", g.check("192.0.2.1", "alice@example.com"))
    g.failed("192.0.2.1", "alice@example.com", "imap")
    assert g.check("192.0.2.1", "alice@example.com").allowed


def test_failures_from_many_addresses_lock_the_account_and_raise_one_alert():
    clock = Clock()
    alerts = []
    g = LoginGuard(MemoryStore(), GuardPolicy(max_failures=5, account_max_failures=6, account_min_addresses=3,
                                              account_lock=120), clock=clock, on_lock=lambda *a: alerts.append(a))
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        for _ in range(2):
            g.failed(ip, "alice@example.com", "imap")
    verdict = g.check("198.51.100.9", "alice@example.com")  # a fresh address, even with the right password
    assert not verdict.allowed and verdict.reason == "account"
    g.failed("192.0.2.4", "alice@example.com", "imap")
    assert alerts == [("alice@example.com", 3, 6, 120)]  # one alert per lock
    clock.now += 121
    assert g.check("198.51.100.9", "alice@example.com").allowed


def test_one_address_alone_never_locks_the_account():
    g = guard(Clock(), max_failures=100, account_max_failures=5, account_min_addresses=3)
    for _ in range(20):
        g.failed("192.0.2.1", "alice@example.com", "imap")
    assert g.check("198.51.100.9", "alice@example.com").allowed


def test_a_refused_attempt_never_runs_the_verifier():
    g = guard(Clock(), max_failures=1)
    calls = []

    def verify():
        calls.append(1)
        return None

    first = g.attempt("192.0.2.1", "alice@example.com", "imap", verify)
    second = g.attempt("192.0.2.1", "alice@example.com", "imap", verify)
    assert first.result is None and not first.refused and first.delay == 2
    assert second.refused and calls == [1]


def test_the_memory_store_stays_bounded_under_a_spray_of_addresses():
    store = MemoryStore(limit=100)
    g = LoginGuard(store, GuardPolicy(), clock=Clock())
    for i in range(250):
        g.failed(f"10.0.{i >> 8}.{i & 255}", "alice@example.com", "imap")
    assert len(store._failures) <= 100
