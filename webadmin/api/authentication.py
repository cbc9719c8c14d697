"""Token authentication through the login guard, so whoever guesses tokens is slowed down.

DRF's ``TokenAuthentication`` answers every wrong token with 401 as fast as it
can. This subclass asks the login guard (``agents.loginguard``, shared by every
process) first and counts each wrong token against the client address; past
``MAILAPP_AUTH_MAX_FAILURES`` within ``MAILAPP_AUTH_LOCKOUT_SECONDS`` every token
attempt from that address is answered ``429`` with ``Retry-After`` — even a right
token, so that a guesser learns nothing while locked out.
"""

from __future__ import annotations

import math
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request

from agents.loginguard.db import client_ip, staff_guard


class AuthLockedOut(exceptions.Throttled):
    default_detail = "Too many failed authentication attempts from your address."
    default_code = "auth_locked_out"


class ThrottledTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>`` with failed attempts counted per client address."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = str(request.META.get("HTTP_AUTHORIZATION", "")).split()
        if not parts or parts[0].lower() != self.keyword.lower():
            return None  # no token offered: not an attempt, nothing to count
        ip = client_ip(request.META)
        guard = staff_guard()
        verdict = guard.check(ip, "")  # a token names no account: the address alone is counted
        if not verdict.allowed:
            raise AuthLockedOut(wait=max(1, math.ceil(verdict.retry_after)))
        try:
            result = super().authenticate(request)
        except exceptions.AuthenticationFailed:
            guard.failed(ip, "", "api")
            raise
        guard.succeeded(ip, "", verdict)
        return result
