"""What a deletion takes away, counted before it happens, for the confirmation pages.

Every destructive action of the dashboard (and the Django admin, which sends its
deletes here) first shows a :class:`RemovalPlan`: the mailboxes, their messages
and bytes, the aliases, and where the mail will be kept or archived. Nothing is
counted by scanning: the store's index holds the totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from webadmin.models import Alias, Domain, Mailbox
from webadmin.services import RemovalMode, remove_domain, remove_mailbox


@dataclass
class MailboxCount:
    address: str
    messages: int | None  # None: the store cannot tell
    bytes: int | None


@dataclass
class RemovalPlan:
    domains: list[Domain] = field(default_factory=list)
    mailboxes: list[MailboxCount] = field(default_factory=list)
    aliases: int = 0

    @property
    def messages(self) -> int:
        return sum(m.messages or 0 for m in self.mailboxes)

    @property
    def bytes(self) -> int:
        return sum(m.bytes or 0 for m in self.mailboxes)

    @property
    def unknown(self) -> bool:
        return any(m.messages is None for m in self.mailboxes)

    @property
    def archive_dir(self) -> Path:
        """Where removed mail goes: ``<archive>/<domain>/<local>-<UTC time>`` (a folder, or ``.tar.gz``)."""
        return Path(settings.MAILAPP_ARCHIVE_DIR)


def count_mailbox(address: str) -> MailboxCount:
    """Messages and bytes of one mailbox from the store's index (0 for one never written to)."""
    try:
        from agents.store import default_store

        store = default_store()
        if not store.path_for(address).is_dir():
            return MailboxCount(address, 0, 0)
        opened = store.mailbox(address)
        return MailboxCount(address, opened.message_count(), opened.usage())
    except Exception:  # an unreadable mailbox must not hide the confirmation page
        return MailboxCount(address, None, None)


def plan_domains(domains: list[Domain]) -> RemovalPlan:
    boxes = Mailbox.objects.filter(domain__in=domains).select_related("domain")
    return RemovalPlan(
        domains=list(domains),
        mailboxes=[count_mailbox(m.address) for m in boxes],
        aliases=Alias.objects.filter(domain__in=domains).count(),
    )


def plan_mailboxes(mailboxes: list[Mailbox]) -> RemovalPlan:
    same_address = sum(
        Alias.objects.filter(domain_id=m.domain_id, local_part=m.local_part).count() for m in mailboxes
    )
    return RemovalPlan(mailboxes=[count_mailbox(m.address) for m in mailboxes], aliases=same_address)


@transaction.atomic
def remove_domains(domains: list[Domain], mode: RemovalMode) -> None:
    """Delete the domains; once that commits, all their mail moves to the archive folder."""
    for domain in domains:
        remove_domain(domain, mode)


@transaction.atomic
def remove_mailboxes(mailboxes: list[Mailbox], mode: RemovalMode) -> None:
    for mailbox in mailboxes:
        remove_mailbox(mailbox, mode)
