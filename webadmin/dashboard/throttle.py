"""Failed staff logins and second-factor codes are throttled per user name and per client IP.

Without this, a stolen password plus a script could walk the million TOTP codes.
Limits are the appliance's (MAILAPP_AUTH_MAX_FAILURES within
MAILAPP_AUTH_LOCKOUT_SECONDS), counted in Django's cache.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _keys(ip: str, username: str) -> list[tuple[str, int]]:
    limit = int(settings.MAILAPP_AUTH_MAX_FAILURES)
    digest = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    return [(f"dashboard-fail-user:{digest}", limit), (f"dashboard-fail-ip:{ip}", limit * 4)]


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def is_throttled(ip: str, username: str) -> bool:
    """True while the user name or the client IP has too many recent failures."""
    return any(int(cache.get(key, 0)) >= limit for key, limit in _keys(ip, username))


def record_failure(ip: str, username: str) -> None:
    lockout = int(settings.MAILAPP_AUTH_LOCKOUT_SECONDS)
    for key, _limit in _keys(ip, username):
        if not cache.add(key, 1, lockout):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, lockout)


def clear_failures(ip: str, username: str) -> None:
    cache.delete(_keys(ip, username)[0][0])


def lockout_minutes() -> int:
    return max(1, int(settings.MAILAPP_AUTH_LOCKOUT_SECONDS) // 60)
