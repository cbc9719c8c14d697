"""The guard's check on the database: one SQL statement that decides like the rows say (the shared truth).

Rows are written here as another agent process would have written them (straight into the
tables), so these tests prove the check reads the database each time, not a copy of its own.
"""

from __future__ import annotations

import datetime

import pytest

from agents.loginguard import GuardPolicy, LoginGuard
from agents.loginguard.db import DatabaseStore
from agents.models import LoginFailure, LoginLock

NOW = 1_900_000_000.0  # 2030: a fixed clock; rows carry their own times
IP, OTHER_IP, ACCOUNT = "192.0.2.7", "192.0.2.8", "alice@example.com"


def guard(**policy: float) -> LoginGuard:
    return LoginGuard(DatabaseStore(), GuardPolicy(**policy), clock=lambda: NOW)  # type: ignore[arg-type]


def _failed(ip: str, account: str, ago: float, n: int = 1) -> None:
    LoginFailure.objects.bulk_create(
        LoginFailure(ip=ip, account=account, service="imap", at=NOW - ago) for _ in range(n))


@pytest.mark.django_db
def test_failures_another_process_wrote_refuse_the_address_for_that_account_within_the_window():
    g = guard(max_failures=3, window=60)
    _failed(IP, ACCOUNT, ago=70, n=5)  # outside the window: forgotten
    _failed(IP, ACCOUNT, ago=50, n=2)
    verdict = g.check(IP, ACCOUNT)
    assert verdict.allowed and verdict.failures == 2
    _failed(IP, ACCOUNT, ago=10)
    verdict = g.check(IP, "Alice@Example.com")
    assert not verdict.allowed and verdict.reason == "address"
    assert verdict.retry_after == pytest.approx(10.0)  # when the oldest of the three leaves the window
    assert g.check(IP, "bob@example.com").allowed  # 3 < 4 × 3 for the address over all accounts
    assert g.check(OTHER_IP, ACCOUNT).allowed


@pytest.mark.django_db
def test_an_address_spraying_accounts_is_refused_for_every_account():
    g = guard(max_failures=2, window=60)
    for n in range(8):
        _failed(IP, f"user{n}@example.com", ago=5)
    verdict = g.check(IP, "someone.new@example.com")
    assert not verdict.allowed and verdict.reason == "address" and verdict.failures == 8


@pytest.mark.django_db
def test_an_account_lock_in_the_database_refuses_every_address_until_it_ends():
    g = guard(max_failures=5, account_max_failures=10)
    until = datetime.datetime.fromtimestamp(NOW + 120.5, tz=datetime.UTC)
    LoginLock.objects.create(account=ACCOUNT, until=until, created=until - datetime.timedelta(minutes=5))
    LoginLock.objects.create(account=ACCOUNT, until=until - datetime.timedelta(minutes=10))  # an old one, ended
    verdict = g.check(OTHER_IP, ACCOUNT)
    assert not verdict.allowed and verdict.reason == "account"
    assert verdict.retry_after == pytest.approx(120.5, abs=0.01)
    assert g.check(OTHER_IP, "bob@example.com").allowed
    assert guard(max_failures=5, account_max_failures=0).check(OTHER_IP, ACCOUNT).allowed  # account locks off
    LoginLock.objects.filter(until=until).update(until=until - datetime.timedelta(seconds=121))
    assert g.check(OTHER_IP, ACCOUNT).allowed  # it ended


@pytest.mark.django_db
def test_a_refused_check_on_the_database_never_runs_the_verifier():
    g = guard(max_failures=1)
    _failed(IP, ACCOUNT, ago=1)
    ran: list[bool] = []
    attempt = g.attempt(IP, ACCOUNT, "imap", lambda: ran.append(True) or "user")
    assert attempt.refused and ran == []
