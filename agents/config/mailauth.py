"""Configuration of mail authentication: per-domain mail policies, the greylisting whitelist, DKIM keys.

Read by ``agents.mailauth`` on every message, so every answer is cached in
``agents.config``'s one cache and dropped when the configuration generation moves
(``webadmin.signals`` bumps it for these models too).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from agents.config import _cached, cached_only, canonical_domain

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class MailPolicyRow:
    """A domain's ``MailPolicy`` as stored (0 limits mean "the global setting")."""

    dmarc_action: str  # reject | junk | ignore
    spam_junk_score: float
    spam_reject_score: float
    greylisting: bool
    max_messages_per_hour: int
    max_recipients_per_message: int
    guard_recipients: int = 0  # the account guard's thresholds (0 = the global setting)
    guard_unknown_recipients: int = 0
    guard_remote_rejects: int = 0
    guard_new_address_recipients: int = 0


@dataclass(frozen=True)
class DkimKeyRow:
    selector: str
    algorithm: str  # "rsa" | "ed25519"
    private_key: str  # PEM (RSA) or base64 seed (Ed25519)
    dns_value: str  # the TXT value to publish at <selector>._domainkey.<domain>
    domain_active: bool  # an inactive domain keeps its records but signs nothing


def _policy_row(canonical: str) -> MailPolicyRow | None:
    def compute() -> MailPolicyRow | None:
        from webadmin.models import MailPolicy

        row = MailPolicy.objects.filter(domain__name=canonical).first()
        if row is None:
            return None
        return MailPolicyRow(row.dmarc_action, row.spam_junk_score, row.spam_reject_score, row.greylisting,
                             row.max_messages_per_hour, row.max_recipients_per_message,
                             row.guard_recipients, row.guard_unknown_recipients, row.guard_remote_rejects,
                             row.guard_new_address_recipients)

    return _cached("mailpolicy", canonical, compute)


def mail_policy(domain: str) -> MailPolicyRow | None:
    """The stored policy of ``domain`` (ASCII; a domain alias follows its target), or None."""
    domain = domain.lower().rstrip(".")
    return _policy_row(canonical_domain(domain) or domain)


_UNKNOWN = object()


def cached_mail_policy(domain: str) -> tuple[bool, MailPolicyRow | None]:
    """(known, policy) from the cache only, never the database: for the event loop."""
    domain = domain.lower().rstrip(".")
    canonical = cached_only("domain", domain, _UNKNOWN)
    if canonical is _UNKNOWN:
        return False, None
    row = cached_only("mailpolicy", canonical or domain, _UNKNOWN)
    return (False, None) if row is _UNKNOWN else (True, row)


def greylist_whitelist() -> tuple[list[Network], list[str]]:
    """The greylisting whitelist as (networks, domains); an entry that is not a network is a domain."""

    def compute() -> tuple[list[Network], list[str]]:
        from webadmin.models import GreylistWhitelist

        networks: list[Network] = []
        domains: list[str] = []
        for entry in GreylistWhitelist.objects.values_list("entry", flat=True):
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                domains.append(entry.strip().lower().rstrip("."))
        return networks, domains

    return _cached("greylist-whitelist", None, compute)


def dkim_keys(domain: str) -> list[DkimKeyRow]:
    """The active DKIM keys of ``domain`` (ASCII), newest first."""
    domain = domain.lower().rstrip(".")

    def compute() -> list[DkimKeyRow]:
        from webadmin.models import DkimKey

        rows = DkimKey.objects.select_related("domain").filter(domain__name=domain, active=True)
        return [DkimKeyRow(r.selector, r.algorithm, r.private_key, r.dns_value(), r.domain.active)
                for r in rows.order_by("-created", "-pk")]

    return _cached("dkim", domain, compute)
