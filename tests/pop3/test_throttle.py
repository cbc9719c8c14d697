"""Failed-login throttling: growing delay, per-IP lockout, expiry, success resets."""

from __future__ import annotations

from agents.pop3.throttle import MAX_TRACKED, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delay_grows_and_lockout_after_max_failures_then_expires():
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, lockout_seconds=60, base_delay=1, max_delay=5, clock=clock)
    assert [throttle.failure("10.0.0.1") for _ in range(2)] == [1, 2]
    assert not throttle.locked("10.0.0.1")
    throttle.failure("10.0.0.1")
    assert throttle.locked("10.0.0.1")
    assert not throttle.locked("10.0.0.2")
    clock.now += 61
    assert not throttle.locked("10.0.0.1")


def test_success_clears_the_count():
    throttle = LoginThrottle(max_failures=2, lockout_seconds=60, clock=Clock())
    throttle.failure("::1")
    throttle.success("::1")
    throttle.failure("::1")
    assert not throttle.locked("::1")


def test_memory_stays_bounded_under_a_spray_of_addresses():
    throttle = LoginThrottle(max_failures=5, lockout_seconds=60, clock=Clock())
    for i in range(MAX_TRACKED + 50):
        throttle.failure(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    assert len(throttle._records) <= MAX_TRACKED
