"""Failed SMTP AUTH: a growing delay and a hang-up after 3 tries, counted by the shared login guard."""

from __future__ import annotations

import smtplib
import time

import pytest

from agents.loginguard import GuardPolicy

from .test_submission_auth import plain


def test_three_failed_auth_tries_on_one_connection_end_it(agent):
    with agent.smtps() as client:
        client.ehlo("client.test")
        replies = [client.docmd("AUTH PLAIN", plain("alice@example.com", "wrong"))[0] for _ in range(3)]
        assert replies == [535, 535, 535]
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()


def test_auth_login_failures_count_too(agent):
    with agent.smtps() as client:
        client.ehlo("client.test")
        for _ in range(3):
            client.docmd("AUTH LOGIN", "YWxpY2VAZXhhbXBsZS5jb20=")  # alice@example.com
            client.docmd("d3Jvbmc=")  # "wrong"
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()


def test_each_failure_waits_longer(agent):
    agent.server.guard.policy = GuardPolicy(delay=0.1, max_delay=0.4, max_failures=0)
    with agent.smtps() as client:
        client.ehlo("client.test")
        waited = []
        for _ in range(2):
            started = time.monotonic()
            assert client.docmd("AUTH PLAIN", plain("alice@example.com", "wrong"))[0] == 535
            waited.append(time.monotonic() - started)
    assert waited[0] >= 0.1 and waited[1] >= 0.2
