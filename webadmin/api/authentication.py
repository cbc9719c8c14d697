"""Token authentication that slows down whoever guesses tokens.

DRF's ``TokenAuthentication`` answers every wrong token with 401 as fast as it
can. This subclass counts failed attempts per client IP in the Django cache and,
past ``MAILAPP_AUTH_MAX_FAILURES`` within ``MAILAPP_AUTH_LOCKOUT_SECONDS``,
answers every token attempt from that IP with ``429`` and ``Retry-After`` —
even a right token, so that a guesser learns nothing while locked out. The
cache is per process unless ``CACHES`` points at a shared one (Redis).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request

CACHE_PREFIX = "mailapp:api-auth-failures:"


def _limits() -> tuple[int, int]:
    return int(settings.MAILAPP_AUTH_MAX_FAILURES), int(settings.MAILAPP_AUTH_LOCKOUT_SECONDS)


def client_ip(request: Request) -> str:
    """The peer address; proxies' X-Forwarded-For is not trusted (it is the attacker's to write)."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _failures(ip: str) -> tuple[int, float]:
    """(failed attempts, time the window started) for ``ip``."""
    now = time.time()
    value = cache.get(CACHE_PREFIX + ip)
    if not value:
        return 0, now
    count, started = value
    if now - float(started) >= _limits()[1]:
        return 0, now  # the window is over: start afresh
    return int(count), float(started)


def record_failure(ip: str) -> None:
    window = _limits()[1]
    count, started = _failures(ip)
    cache.set(CACHE_PREFIX + ip, (count + 1, started), timeout=window)


def reset_failures(ip: str) -> None:
    """Forget the failures of ``ip`` (tests, or an admin unlocking a host)."""
    cache.delete(CACHE_PREFIX + ip)


class AuthLockedOut(exceptions.Throttled):
    default_detail = "Too many failed authentication attempts from your address."
    default_code = "auth_locked_out"


class ThrottledTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>`` with failed attempts counted per client IP."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = str(request.META.get("HTTP_AUTHORIZATION", "")).split()
        if not parts or parts[0].lower() != self.keyword.lower():
            return None  # no token offered: not an attempt, nothing to count
        ip = client_ip(request)
        max_failures, window = _limits()
        count, started = _failures(ip)
        if count >= max_failures:
            wait = max(1, int(started + window - time.time()))
            raise AuthLockedOut(wait=wait)
        try:
            result = super().authenticate(request)
        except exceptions.AuthenticationFailed:
            record_failure(ip)
            raise
        return result
