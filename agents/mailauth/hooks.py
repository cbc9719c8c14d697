"""What the smtp agent asks at MAIL, RCPT and DATA on the MX door (synchronous: call from a thread).

Each returns None to go on, or the reply line to give. Only the MX door
(listener "smtp") and only unauthenticated clients get these: the client-IP
rate limit, greylisting and the authentication/spam checks. What an
authenticated sender may do is the submission policy's (``agents.queue.submission``).
The smtp agent receives this module through its constructor (``InboundHooks``).
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from . import greylist, policy, ratelimit

log = logging.getLogger(__name__)
MX = "smtp"
HOUSEKEEPING_EVERY = 3600.0  # seconds between prunes of old greylist triplets and rate windows
_last_housekeeping = [time.monotonic()]
_housekeeping_lock = threading.Lock()


def housekeeping() -> None:
    """Prune expired greylist triplets and old rate windows, at most once an hour per process."""
    with _housekeeping_lock:
        if time.monotonic() - _last_housekeeping[0] < HOUSEKEEPING_EVERY:
            return
        _last_housekeeping[0] = time.monotonic()
    try:
        greylist.prune()
        ratelimit.prune()
    except Exception:  # a busy database: next hour
        log.exception("mailauth housekeeping failed")


def on_mail(listener: str, auth_user: str, ip: str) -> str | None:
    """Messages per hour per client IP (MX door, unauthenticated)."""
    housekeeping()
    if auth_user:
        return None
    if listener == MX and settings.MAILAPP_RATE_IP_PER_HOUR > 0:
        return None if ratelimit.hit(f"ip:{ip}", settings.MAILAPP_RATE_IP_PER_HOUR) else ratelimit.OVER_LIMIT
    return None


def wants_rcpt(listener: str, authenticated: bool, recipient: str) -> bool:
    """Might :func:`on_rcpt` refuse? From cached policies only (spares the thread hop per RCPT)."""
    if authenticated or listener != MX:
        return False
    cached = policy.peek(recipient.rpartition("@")[2])
    return cached is None or cached.greylisting


def on_rcpt(listener: str, auth_user: str, ip: str, helo: str, sender: str, recipient: str,
            accepted: int) -> str | None:
    """Greylisting (MX door, per recipient domain)."""
    if auth_user:
        return None
    if listener != MX or not policy.for_address(recipient).greylisting:
        return None
    housekeeping()
    if policy.whitelisted(ip, sender.rpartition("@")[2], helo):
        return None
    return greylist.check(ip, sender, recipient)


def wants_data(listener: str, authenticated: bool) -> bool:
    return listener == MX and not authenticated and settings.MAILAPP_MAILAUTH


def on_data(listener: str, auth_user: str, ip: str, helo: str, sender: str, recipients: list[str],
            raw: bytes) -> tuple[str | None, bytes]:
    """(reply or None, the message to queue) after the MX door's checks."""
    if listener != MX or auth_user or not settings.MAILAPP_MAILAUTH:
        return None, raw
    # Loaded with the first message to check, not when the smtp agent starts: SPF, DKIM, ARC and
    # DMARC bring pyspf, dkimpy, PyNaCl, dnspython and the public suffix list, ~10 MiB an idle
    # agent need not hold (tests/supervisor/test_lean_imports.py).
    from . import inbound

    verdict = inbound.check(raw, ip, helo, sender, recipients)
    return verdict.reply, verdict.raw


def wants_mail(listener: str, authenticated: bool) -> bool:
    """Does :func:`on_mail` have anything to check? (cheap, no database: spares the thread hop)"""
    return not authenticated and listener == MX and settings.MAILAPP_RATE_IP_PER_HOUR > 0
