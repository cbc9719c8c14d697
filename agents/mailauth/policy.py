"""Per-domain anti-abuse policy (``webadmin.models.MailPolicy``) with settings as defaults.

Read on every message, so answers are cached for ``CACHE_SECONDS`` (a change in
the admin is seen within that time, inside DESIGN's two seconds).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass

from django.conf import settings

CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class DomainPolicy:
    dmarc_action: str  # reject | junk | ignore
    spam_junk_score: float
    spam_reject_score: float
    greylisting: bool
    max_messages_per_hour: int
    max_recipients_per_message: int


_lock = threading.Lock()
_cache: dict[str, tuple[float, object]] = {}


def _cached(key: str, make):
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    value = make()
    with _lock:
        _cache[key] = (now, value)
    return value


def peek(domain: str) -> DomainPolicy | None:
    """The cached policy of ``domain`` if fresh, else None (no database: for the event loop)."""
    hit = _cache.get("policy:" + domain.lower().rstrip("."))
    if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]  # type: ignore[return-value]
    return None


def clear() -> None:
    """Forget cached answers (tests, and after an admin change in this process)."""
    with _lock:
        _cache.clear()


def default_policy() -> DomainPolicy:
    return DomainPolicy("reject", settings.MAILAPP_SPAM_JUNK_SCORE, settings.MAILAPP_SPAM_REJECT_SCORE, False,
                        settings.MAILAPP_RATE_SENDER_PER_HOUR, settings.MAILAPP_RATE_RECIPIENTS)


def for_domain(domain: str) -> DomainPolicy:
    """The policy of local ``domain`` (ASCII, domain aliases followed), or the defaults."""
    domain = domain.lower().rstrip(".")

    def load() -> DomainPolicy:
        from agents import config
        from webadmin.models import MailPolicy

        canonical = config.canonical_domain(domain) or domain
        row = MailPolicy.objects.filter(domain__name=canonical).first()
        base = default_policy()
        if row is None:
            return base
        return DomainPolicy(row.dmarc_action, row.spam_junk_score, row.spam_reject_score, row.greylisting,
                            row.max_messages_per_hour or base.max_messages_per_hour,
                            row.max_recipients_per_message or base.max_recipients_per_message)

    return _cached("policy:" + domain, load)  # type: ignore[no-any-return]


def for_address(address: str) -> DomainPolicy:
    return for_domain(address.rpartition("@")[2])


def whitelist() -> tuple[list[ipaddress.IPv4Network | ipaddress.IPv6Network], list[str]]:
    """Greylisting whitelist: (networks, domains)."""

    def load():
        from webadmin.models import GreylistWhitelist

        networks, domains = [], []
        for entry in GreylistWhitelist.objects.values_list("entry", flat=True):
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                domains.append(entry.strip().lower().rstrip("."))
        return networks, domains

    return _cached("whitelist", load)  # type: ignore[no-any-return]


def whitelisted(ip: str, *names: str) -> bool:
    """Is the client ``ip`` or one of ``names`` (sender domain, HELO name) on the whitelist?"""
    networks, domains = whitelist()
    try:
        address = ipaddress.ip_address(ip)
        if any(address in net for net in networks):
            return True
    except ValueError:
        pass
    for name in names:
        name = name.lower().rstrip(".")
        if name and any(name == d or name.endswith("." + d) for d in domains):
            return True
    return False
