"""Per-IP session slots (AUTH failures are the login guard's: tests/loginguard)."""

from __future__ import annotations

from agents.peers import PeerLimits


def test_session_slots_are_given_back():
    limits = PeerLimits(max_sessions=1)
    assert limits.open_session("192.0.2.1") and not limits.open_session("192.0.2.1")
    assert limits.open_session("192.0.2.2")
    limits.close_session("192.0.2.1")
    assert limits.open_session("192.0.2.1")

