"""The login guard on the database: one count for every process and host, built from settings.

Every deployment has one shared database (SQLite for one host, PostgreSQL for
several), so failures are rows in it (``agents.models.LoginFailure``): a guess by
IMAP, then POP3, then SMTP, on any worker of any host, counts against the same
address and account. A check is one SQL statement: an indexed count plus an indexed look-up.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from agents import config, metrics
from agents.db import fresh_connection
from agents.models import LoginFailure, LoginLock

from . import GuardPolicy, LoginGuard


def _aware(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)


def _timestamp(value: object) -> float:
    """A ``LoginLock.until`` read by raw SQL (a datetime, or SQLite's text in the connection's zone) in seconds."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"not a date and time: {value!r}")
        value = parsed
    if not isinstance(value, datetime.datetime):
        raise TypeError(f"not a date and time: {value!r}")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, connection.timezone)
    return value.timestamp()


class DatabaseStore:
    """:class:`agents.loginguard.FailureStore` on ``LoginFailure`` and ``LoginLock`` rows."""

    def recent(self, ip: str, account: str, since: float, now: float, *, locks: bool) -> tuple[int, int, float, float]:
        """The check before every login's hash, as one raw SQL statement on two indexes.

        The ORM's two queries (an aggregate, then the lock) cost about a millisecond of
        CPU building SQL per login, more than the rest of a cached login; the statement
        here reads the same rows (``loginfailure_ip_at``, then ``LoginLock.account``),
        so every process still decides on the database's count, never a copy.
        """
        fresh_connection()  # the first query of a check: agents' threads hold connections for long
        failures, lock = LoginFailure._meta.db_table, LoginLock._meta.db_table
        quote = connection.ops.quote_name
        if locks:
            lock_sql = (f"(SELECT max({quote('until')}) FROM {quote(lock)}"
                        f" WHERE {quote('account')} = %s AND {quote('until')} > %s)")
            lock_params: list[Any] = [account, connection.ops.adapt_datetimefield_value(_aware(now))]
        else:
            lock_sql, lock_params = "NULL", []
        sql = (f"SELECT count(*), coalesce(sum(CASE WHEN {quote('account')} = %s THEN 1 ELSE 0 END), 0),"
               f" min({quote('at')}), {lock_sql} FROM {quote(failures)}"
               f" WHERE {quote('ip')} = %s AND {quote('at')} >= %s")
        with connection.cursor() as cursor:
            cursor.execute(sql, [account, *lock_params, ip, since])
            total, mine, oldest, until = cursor.fetchone()
        return (int(total or 0), int(mine or 0), float(oldest if oldest is not None else since),
                _timestamp(until) if until is not None else 0.0)

    def failures(self, ip: str, account: str, since: float) -> tuple[int, int, float]:
        fresh_connection()  # the first query of a check: agents' threads hold connections for long
        row = LoginFailure.objects.filter(ip=ip, at__gte=since).aggregate(
            total=Count("id"), mine=Count("id", filter=Q(account=account)), oldest=Min("at")
        )
        return int(row["total"] or 0), int(row["mine"] or 0), float(row["oldest"] or since)

    def account_failures(self, account: str, since: float) -> tuple[int, int]:
        row = LoginFailure.objects.filter(account=account, at__gte=since).aggregate(
            total=Count("id"), addresses=Count("ip", distinct=True)
        )
        return int(row["total"] or 0), int(row["addresses"] or 0)

    def locked_until(self, account: str, now: float) -> float:
        until = (
            LoginLock.objects.filter(account=account, until__gt=_aware(now))
            .order_by("-until")
            .values_list("until", flat=True)
            .first()
        )
        return until.timestamp() if until is not None else 0.0

    def add_failure(self, ip: str, account: str, service: str, now: float) -> None:
        LoginFailure.objects.create(ip=ip[:64], account=account, service=service[:16], at=now)

    def lock_account(self, account: str, until: float, addresses: int, failures: int, now: float) -> bool:
        if LoginLock.objects.filter(account=account, until__gt=_aware(now)).exists():
            return False
        LoginLock.objects.create(account=account, until=_aware(until), created=_aware(now),
                                 addresses=addresses, failures=failures)
        return True

    def forget(self, ip: str, account: str) -> None:
        LoginFailure.objects.filter(ip=ip, account=account).delete()

    def prune(self, before: float) -> None:
        fresh_connection()  # the first query of a failure
        LoginFailure.objects.filter(at__lt=before).delete()


def policy_from_settings() -> GuardPolicy:
    return GuardPolicy(
        max_failures=int(settings.MAILAPP_AUTH_MAX_FAILURES),
        window=float(settings.MAILAPP_AUTH_LOCKOUT_SECONDS),
        delay=float(settings.MAILAPP_AUTH_DELAY),
        max_delay=float(settings.MAILAPP_AUTH_MAX_DELAY),
        account_max_failures=int(settings.MAILAPP_AUTH_ACCOUNT_MAX_FAILURES),
        account_min_addresses=int(settings.MAILAPP_AUTH_ACCOUNT_MIN_ADDRESSES),
        account_lock=float(settings.MAILAPP_AUTH_ACCOUNT_LOCK_SECONDS),
        per_connection=int(settings.MAILAPP_AUTH_TRIES_PER_CONNECTION),
    )


def mail_account(login: str) -> str:
    """A mailbox login in canonical form: every spelling of an address (case, IDN, domain alias) counts alike."""
    return config.canonical_address(login) or login.strip().lower()


def staff_account(username: str) -> str:
    """Staff user names live apart from mail addresses (a staff "alice" is not alice@…)."""
    return "staff:" + username.strip().lower()


def mail_guard() -> LoginGuard:
    """The guard of mailbox logins (IMAP, POP3, SMTP AUTH, webmail), policy read from settings now."""
    return LoginGuard(DatabaseStore(), policy_from_settings(), normalize=mail_account, on_outcome=metrics.login)


def staff_guard() -> LoginGuard:
    """The guard of staff logins (dashboard, admin) and API tokens (account "")."""
    return LoginGuard(DatabaseStore(), policy_from_settings(), normalize=staff_account, on_outcome=metrics.login)


def recent_locks(hours: int = 24) -> list[LoginLock]:
    """Account locks of the last ``hours``, newest first: the dashboard's alert list."""
    return list(LoginLock.objects.filter(created__gte=timezone.now() - datetime.timedelta(hours=hours))[:20])


def client_ip(meta: dict) -> str:
    """The peer address of a web request (``request.META``); X-Forwarded-For is the client's to write."""
    return str(meta.get("REMOTE_ADDR") or "unknown")


def wait_text(seconds: float) -> str:
    """ "3 minutes", "1 minute": how long a refused client should wait, for a web page."""
    minutes = max(1, int(-(-seconds // 60)))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
