"""One login guard for every door: IMAP, POP3, SMTP AUTH, the dashboard, webmail, the admin, API tokens.

The guard is asked *before* any password hash is computed (:meth:`LoginGuard.check`),
and told the outcome afterwards (:meth:`LoginGuard.failed`, :meth:`LoginGuard.succeeded`).
It counts failures by client address and by account in a :class:`FailureStore`; the
appliance uses the database one (:mod:`agents.loginguard.db`), so every agent process,
every SMTP worker and every web worker on every host sees the same counts.

What it decides (values in ``docs/security.md``):

- a client address with ``max_failures`` failures for one account within ``window``
  seconds is refused for that account, and with ``4 × max_failures`` failures for any
  accounts it is refused for all, until the oldest failure leaves the window;
- each failure earns a growing delay before the answer, Dovecot-style:
  ``delay``, ``2 × delay``, ``4 × delay`` … up to ``max_delay`` (2 → 4 → 8 s);
- an account that met ``account_max_failures`` failures from at least
  ``account_min_addresses`` client addresses within the window is locked for
  ``account_lock`` seconds (even the right password is refused), with an alert.

This module is pure (no Django): sessions receive a guard through their constructor
and tests may run it on :class:`MemoryStore`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

log = logging.getLogger("agents.loginguard")

T = TypeVar("T")

ADDRESS_FACTOR = 4  # failures from one address for any accounts, as a multiple of the per-account limit


@dataclass(frozen=True)
class GuardPolicy:
    max_failures: int = 5  # per client address and account within the window; 0 = no lockout
    window: float = 300.0  # seconds a failure counts
    delay: float = 2.0  # after the first failure; doubles with each further one
    max_delay: float = 8.0
    account_max_failures: int = 10  # from many addresses: locks the account; 0 = never
    account_min_addresses: int = 3
    account_lock: float = 300.0  # seconds
    per_connection: int = 3  # failed tries before a protocol session is closed

    def delay_after(self, failures: int) -> float:
        """Seconds to wait before answering the ``failures``-th recent failure of one address."""
        if failures <= 0 or self.delay <= 0:
            return 0.0
        return min(self.max_delay, self.delay * 2 ** min(failures - 1, 30))


class LoginUnavailable(Exception):
    """The credentials could not be checked now (the auth service is down or overwhelmed).

    Every door answers it as a temporary failure (IMAP ``NO [UNAVAILABLE]``, POP3
    ``-ERR [SYS/TEMP]``, SMTP ``454``, ManageSieve ``NO (TRYLATER)``): never a login, and
    not a failed guess either (nothing is counted against the client).
    """


@dataclass(frozen=True)
class Verdict:
    """The answer of :meth:`LoginGuard.check`: may this login be tried at all?"""

    allowed: bool
    reason: str = ""  # "address" or "account" when refused
    retry_after: float = 0.0  # seconds
    failures: int = 0  # recent failures of this client address (any account)


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """The outcome of :meth:`LoginGuard.attempt`."""

    result: T | None  # what the verifier returned; None if refused or wrong
    verdict: Verdict
    delay: float = 0.0  # seconds to wait before answering (a failure)

    @property
    def refused(self) -> bool:
        return not self.verdict.allowed


class FailureStore(Protocol):
    """Where failures and account locks are kept (shared between processes, or not)."""

    def failures(self, ip: str, account: str, since: float) -> tuple[int, int, float]:
        """(failures of ``ip``, of which for ``account``, time of the oldest) since ``since``."""

    def recent(self, ip: str, account: str, since: float, now: float, *, locks: bool) -> tuple[int, int, float, float]:
        """:meth:`failures` and, if ``locks``, :meth:`locked_until` (else 0) in one look-up: the check before a hash."""

    def account_failures(self, account: str, since: float) -> tuple[int, int]:
        """(failures for ``account``, distinct client addresses they came from) since ``since``."""

    def locked_until(self, account: str, now: float) -> float:
        """When the lock of ``account`` ends; 0 if it is not locked at ``now``."""

    def add_failure(self, ip: str, account: str, service: str, now: float) -> None: ...

    def lock_account(self, account: str, until: float, addresses: int, failures: int, now: float) -> bool:
        """Lock ``account`` until ``until``; False if it was locked already (no new alert)."""

    def forget(self, ip: str, account: str) -> None:
        """Drop the failures of ``ip`` for ``account`` (a successful login)."""

    def prune(self, before: float) -> None:
        """Drop failures older than ``before``."""


class LoginGuard:
    """Decides whether a login may be tried, and counts the outcome. Thread-safe if the store is."""

    def __init__(self, store: FailureStore, policy: GuardPolicy | None = None, *,
                 normalize: Callable[[str], str] | None = None, clock: Callable[[], float] = time.time,
                 on_lock: Callable[[str, int, int, float], None] | None = None,
                 on_outcome: Callable[[str, str], None] | None = None) -> None:
        self.store = store
        self.policy = policy or GuardPolicy()
        self.normalize = normalize or (lambda login: login.strip().lower())
        self.clock = clock
        self.on_lock = on_lock  # (account, addresses, failures, seconds) after a new account lock
        self.on_outcome = on_outcome  # (service, "success" | "failure" | "refused"): the login metrics

    def outcome(self, service: str, result: str) -> None:
        """Report one login's outcome (success, failure, refused) to ``on_outcome``, if any."""
        if self.on_outcome is not None:
            self.on_outcome(service, result)

    def account(self, login: str) -> str:
        return self.normalize(login[:400])[:320] if login else ""

    def check(self, ip: str, login: str) -> Verdict:
        """May ``login`` from ``ip`` be tried now? Costs one store look-up (two indexed reads), never a hash."""
        policy = self.policy
        now = self.clock()
        account = self.account(login)
        locks = bool(account and policy.account_max_failures)
        total, mine, oldest, until = self.store.recent(ip, account, now - policy.window, now, locks=locks)
        if policy.max_failures and (mine >= policy.max_failures or total >= ADDRESS_FACTOR * policy.max_failures):
            return Verdict(False, "address", max(1.0, oldest + policy.window - now), total)
        if locks and until > now:
            return Verdict(False, "account", until - now, total)
        return Verdict(True, failures=total)

    def failed(self, ip: str, login: str, service: str) -> float:
        """Count a failed login; returns the seconds to wait before answering it."""
        policy = self.policy
        now = self.clock()
        since = now - policy.window
        account = self.account(login)
        self.outcome(service, "failure")
        self.store.prune(now - max(policy.window, 60.0))
        self.store.add_failure(ip, account, service, now)
        total, _mine, _oldest = self.store.failures(ip, account, since)
        if account and policy.account_max_failures:
            count, addresses = self.store.account_failures(account, since)
            if count >= policy.account_max_failures and addresses >= policy.account_min_addresses:
                if self.store.lock_account(account, now + policy.account_lock, addresses, count, now):
                    log.warning("login guard: account %s locked for %d s after %d failed logins from %d addresses",
                                account, policy.account_lock, count, addresses)
                    if self.on_lock is not None:
                        self.on_lock(account, addresses, count, policy.account_lock)
        return policy.delay_after(total)

    def succeeded(self, ip: str, login: str, verdict: Verdict | None = None, service: str = "") -> None:
        """Forget this address's failures for this account (nothing to write if the check saw none)."""
        if service:
            self.outcome(service, "success")
        if verdict is not None and verdict.failures == 0:
            return
        self.store.forget(ip, self.account(login))

    def attempt(self, ip: str, login: str, service: str, verify: Callable[[], T | None]) -> Attempt[T]:
        """Check, then run ``verify`` (the hash) only if allowed, then count the outcome. Blocking."""
        verdict = self.check(ip, login)
        if not verdict.allowed:
            self.outcome(service, "refused")
            return Attempt(None, verdict)
        result = verify()
        if result is None:
            return Attempt(None, verdict, self.failed(ip, login, service))
        self.succeeded(ip, login, verdict, service)
        return Attempt(result, verdict)


class MemoryStore:
    """A :class:`FailureStore` in this process's memory: for tests and tools, not for the agents.

    Bounded: past ``limit`` failures the oldest are forgotten (a spray of addresses cannot grow it).
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._failures: list[tuple[float, str, str]] = []  # (time, ip, account), oldest first
        self._locks: dict[str, float] = {}
        self.locks_made: list[tuple[str, int, int]] = []
        self._lock = threading.Lock()

    def failures(self, ip: str, account: str, since: float) -> tuple[int, int, float]:
        with self._lock:
            mine = [(at, acc) for at, i, acc in self._failures if i == ip and at >= since]
        oldest = min((at for at, _ in mine), default=since)
        return len(mine), sum(1 for _, acc in mine if acc == account), oldest

    def recent(self, ip: str, account: str, since: float, now: float, *, locks: bool) -> tuple[int, int, float, float]:
        total, mine, oldest = self.failures(ip, account, since)
        return total, mine, oldest, self.locked_until(account, now) if locks else 0.0

    def account_failures(self, account: str, since: float) -> tuple[int, int]:
        with self._lock:
            ips = [i for at, i, acc in self._failures if acc == account and at >= since]
        return len(ips), len(set(ips))

    def locked_until(self, account: str, now: float) -> float:
        until = self._locks.get(account, 0.0)
        return until if until > now else 0.0

    def add_failure(self, ip: str, account: str, service: str, now: float) -> None:
        with self._lock:
            self._failures.append((now, ip, account))
            del self._failures[: max(0, len(self._failures) - self.limit)]

    def lock_account(self, account: str, until: float, addresses: int, failures: int, now: float) -> bool:
        with self._lock:
            if self._locks.get(account, 0.0) > now:
                return False
            self._locks[account] = until
            self.locks_made.append((account, addresses, failures))
            return True

    def forget(self, ip: str, account: str) -> None:
        with self._lock:
            self._failures = [f for f in self._failures if not (f[1] == ip and f[2] == account)]

    def prune(self, before: float) -> None:
        with self._lock:
            self._failures = [f for f in self._failures if f[0] >= before]


def memory_guard(policy: GuardPolicy | None = None) -> LoginGuard:
    """A guard on :class:`MemoryStore` (one process only): what a session gets when none is given."""
    return LoginGuard(MemoryStore(), policy)
