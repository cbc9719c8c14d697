"""Failed logins are delayed, and an address is locked out after MAILAPP_AUTH_MAX_FAILURES."""

from __future__ import annotations

import dataclasses
import poplib

import pytest

from tests.conftest import PASSWORD


def _fail(pop3) -> None:
    client = pop3.connect()
    client.user("alice@example.com")
    with pytest.raises(poplib.error_proto):
        client.pass_("wrong")
    client.close()


def test_lockout_after_max_failures_refuses_even_the_right_password(pop3, settings):
    pop3.server.throttle.policy = dataclasses.replace(pop3.server.throttle.policy, max_failures=3)
    for _ in range(3):
        _fail(pop3)
    client = pop3.connect()
    client.user("alice@example.com")
    with pytest.raises(poplib.error_proto, match="too many failed logins"):
        client.pass_(PASSWORD)


def test_three_failures_on_one_connection_close_it(pop3):
    client = pop3.connect()
    for _ in range(3):
        client.user("alice@example.com")
        with pytest.raises(poplib.error_proto):
            client.pass_("wrong")
    with pytest.raises((poplib.error_proto, OSError, EOFError)):
        client.noop()
