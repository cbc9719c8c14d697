"""Per-IP session slots and the AUTH lockout window."""

from __future__ import annotations

from agents.smtp.limits import PeerLimits


def test_session_slots_are_given_back():
    limits = PeerLimits(max_sessions=1, max_auth_failures=3, lockout_seconds=60)
    assert limits.open_session("192.0.2.1") and not limits.open_session("192.0.2.1")
    assert limits.open_session("192.0.2.2")
    limits.close_session("192.0.2.1")
    assert limits.open_session("192.0.2.1")


def test_lockout_ends_after_the_window():
    now = [1000.0]
    limits = PeerLimits(max_sessions=0, max_auth_failures=2, lockout_seconds=60, clock=lambda: now[0])
    limits.auth_failed("192.0.2.1")
    assert not limits.locked_out("192.0.2.1")
    limits.auth_failed("192.0.2.1")
    assert limits.locked_out("192.0.2.1") and not limits.locked_out("192.0.2.9")
    now[0] += 61
    assert not limits.locked_out("192.0.2.1")
