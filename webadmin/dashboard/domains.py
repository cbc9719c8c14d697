"""Domains for the dashboard: mailbox counts and storage against quotas."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from mailcore.addresses import AddressError, normalize_domain
from webadmin.models import Domain, Mailbox

from .access import AnyUser, visible_domains

MAX_USAGE_SCAN = 500  # per domain on the overview; the domain page shows every mailbox


@dataclass
class MailboxUsage:
    address: str
    quota: int  # 0 = unlimited
    used: int | None  # None: unknown (store not readable)
    active: bool

    @property
    def local_part(self) -> str:
        return self.address.rpartition("@")[0]

    @property
    def percent(self) -> int | None:
        if self.used is None or not self.quota:
            return None
        return min(100, round(100 * self.used / self.quota))


@dataclass
class DomainSummary:
    domain: Domain
    mailboxes: int
    aliases: int
    used: int | None
    quota: int  # sum of mailbox quotas; 0 when any is unlimited
    partial: bool  # usage counted for the first MAX_USAGE_SCAN mailboxes only


def mailbox_usage(address: str) -> int | None:
    """Bytes a mailbox uses, from the store; None when the store cannot tell.

    A mailbox never written to has no folder yet: that is 0 bytes, and asking the
    store would create its Maildir as a side effect of looking.
    """
    try:
        from agents.cluster import usage

        return usage.of(address)  # cluster mode: another node's mailbox is read from the database
    except Exception:  # a broken or unreadable mailbox must not break the page
        return None


def summaries(user: AnyUser) -> list[DomainSummary]:
    rows = []
    for domain in visible_domains(user).annotate(n_mailboxes=Count("mailboxes", distinct=True)):
        mailboxes = list(domain.mailboxes.select_related("domain")[:MAX_USAGE_SCAN])
        usage = [mailbox_usage(m.address) for m in mailboxes]
        quotas = [m.effective_quota for m in mailboxes]
        rows.append(
            DomainSummary(
                domain=domain,
                mailboxes=domain.n_mailboxes,
                aliases=domain.aliases.count(),
                used=None if any(u is None for u in usage) else sum(u or 0 for u in usage),
                quota=0 if any(q == 0 for q in quotas) else sum(quotas),
                partial=domain.n_mailboxes > MAX_USAGE_SCAN,
            )
        )
    return rows


def domain_for(user: AnyUser, name: str) -> Domain | None:
    """The user's domain called ``name`` (Unicode or ASCII form), else None."""
    try:
        name = normalize_domain(name)
    except AddressError:
        return None
    return visible_domains(user).filter(name=name).first()


def mailbox_for(user: AnyUser, domain_name: str, local_part: str) -> Mailbox | None:
    """The mailbox ``local_part`` of the user's domain ``domain_name``, else None (not theirs, or none)."""
    domain = domain_for(user, domain_name)
    if domain is None:
        return None
    return Mailbox.objects.select_related("domain").filter(domain=domain, local_part=local_part.lower()).first()


def mailboxes(domain: Domain) -> list[MailboxUsage]:
    return [
        MailboxUsage(m.address, m.effective_quota, mailbox_usage(m.address), m.active)
        for m in Mailbox.objects.filter(domain=domain).select_related("domain")
    ]

