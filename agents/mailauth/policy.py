"""Per-domain anti-abuse policy (``webadmin.models.MailPolicy``) with settings as defaults.

Read on every message: the rows come from ``agents.config.mailauth``, cached until
the configuration generation moves (a change in the admin is seen within
``MAILAPP_CONFIG_REFRESH``, inside DESIGN's two seconds). The settings' defaults
are applied here, on every call, so a changed setting needs no cache flush.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.conf import settings

from agents.config import mailauth as mailauth_config


@dataclass(frozen=True)
class DomainPolicy:
    dmarc_action: str  # reject | junk | ignore
    spam_junk_score: float
    spam_reject_score: float
    greylisting: bool
    max_messages_per_hour: int
    max_recipients_per_message: int


def peek(domain: str) -> DomainPolicy | None:
    """The policy of ``domain`` if ``agents.config`` has it cached, else None (no database: for the event loop)."""
    known, row = mailauth_config.cached_mail_policy(domain)
    return _merge(row) if known else None


def default_policy() -> DomainPolicy:
    return DomainPolicy("reject", settings.MAILAPP_SPAM_JUNK_SCORE, settings.MAILAPP_SPAM_REJECT_SCORE, False,
                        settings.MAILAPP_RATE_SENDER_PER_HOUR, settings.MAILAPP_RATE_RECIPIENTS)


def _merge(row: mailauth_config.MailPolicyRow | None) -> DomainPolicy:
    base = default_policy()
    if row is None:
        return base
    return DomainPolicy(row.dmarc_action, row.spam_junk_score, row.spam_reject_score, row.greylisting,
                        row.max_messages_per_hour or base.max_messages_per_hour,
                        row.max_recipients_per_message or base.max_recipients_per_message)


def for_domain(domain: str) -> DomainPolicy:
    """The policy of local ``domain`` (ASCII, domain aliases followed), or the defaults."""
    return _merge(mailauth_config.mail_policy(domain))


def for_address(address: str) -> DomainPolicy:
    return for_domain(address.rpartition("@")[2])


def whitelist() -> tuple[list[ipaddress.IPv4Network | ipaddress.IPv6Network], list[str]]:
    """Greylisting whitelist: (networks, domains)."""
    return mailauth_config.greylist_whitelist()


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
