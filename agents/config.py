"""Configuration lookups for the agents, cached and invalidated by a generation counter.

Agents never query the web models directly: they ask here. Each answer is cached
until the configuration generation (``webadmin.models.ConfigGeneration``) moves,
which every save or delete in the admin, the API or a command does. The
generation is re-read at most every ``MAILAPP_CONFIG_REFRESH`` seconds, so a
change reaches running agents on every host well within 2 seconds.

The functions are synchronous and use the Django ORM; asyncio servers call them
through ``asyncio.to_thread`` or accept the short block of a cached answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from django.conf import settings

from agents.db import fresh_connection
from webadmin.addresses import AddressError, normalize_domain, split_address

Service = Literal["smtp", "imap", "pop3", "webmail"]
T = TypeVar("T")


@dataclass(frozen=True)
class MailboxInfo:
    id: int
    address: str  # canonical: lowercase local part @ ASCII domain
    local_part: str
    domain: str
    name: str
    quota: int  # bytes, 0 = unlimited
    active: bool
    can_smtp: bool
    can_imap: bool
    can_pop3: bool
    can_webmail: bool

    def may_use(self, service: Service) -> bool:
        return self.active and bool(getattr(self, f"can_{service}"))


@dataclass(frozen=True)
class FilterRule:
    name: str
    match: str  # "all" | "any"
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    stop: bool


@dataclass
class Expansion:
    """Where mail to an address goes after aliases, domain aliases and catch-alls."""

    mailboxes: list[str] = field(default_factory=list)  # canonical local mailbox addresses
    external: list[str] = field(default_factory=list)  # addresses on other systems
    discarded: bool = False  # some branch ended in a discard alias
    unknown: list[str] = field(default_factory=list)  # local addresses that lead nowhere
    loop: bool = False  # the alias graph looped or ran too deep


RecipientKind = Literal["mailbox", "alias", "unknown", "remote"]

_lock = threading.Lock()
_cache: dict[tuple[str, Any], Any] = {}
_generation: int | None = None
_checked_at = 0.0


def _current_generation() -> int:
    from webadmin.models import ConfigGeneration

    return ConfigGeneration.current()


def refresh(force: bool = False) -> None:
    """Drop the cache if the configuration changed (checked at most every refresh interval)."""
    global _generation, _checked_at
    now = time.monotonic()
    if not force and now - _checked_at < settings.MAILAPP_CONFIG_REFRESH:
        return
    fresh_connection()
    generation = _current_generation()
    with _lock:
        _checked_at = now
        if generation != _generation:
            _cache.clear()
            _generation = generation


def invalidate() -> None:
    """Forget everything now (tests, and the process that made a change)."""
    global _checked_at
    with _lock:
        _cache.clear()
        _checked_at = 0.0


def _cached(kind: str, key: Any, compute: Callable[[], T]) -> T:
    refresh()
    with _lock:
        if (kind, key) in _cache:
            return _cache[(kind, key)]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        _cache[(kind, key)] = value
    return value


# --- domains ------------------------------------------------------------------------------


def canonical_domain(domain: str) -> str | None:
    """The active local domain that ``domain`` names (following a domain alias), or None."""
    try:
        ascii_domain = normalize_domain(domain)
    except AddressError:
        return None

    def compute() -> str | None:
        from webadmin.models import Domain, DomainAlias

        if Domain.objects.filter(name=ascii_domain, active=True).exists():
            return ascii_domain
        alias = DomainAlias.objects.filter(name=ascii_domain, active=True, target__active=True).first()
        return alias.target.name if alias else None

    return _cached("domain", ascii_domain, compute)


def is_local_domain(domain: str) -> bool:
    return canonical_domain(domain) is not None


def local_domains() -> list[str]:
    def compute() -> list[str]:
        from webadmin.models import Domain

        return list(Domain.objects.filter(active=True).values_list("name", flat=True))

    return _cached("domains", None, compute)


def canonical_address(address: str) -> str | None:
    """``local@domain`` lowercased with the domain alias resolved; None if not a valid address."""
    try:
        local, domain = split_address(address)
    except AddressError:
        return None
    return f"{local.lower()}@{canonical_domain(domain) or domain}"


# --- mailboxes ----------------------------------------------------------------------------


def get_mailbox(address: str) -> MailboxInfo | None:
    """The mailbox at ``address`` (any domain alias resolved), active or not; None if none."""
    canonical = canonical_address(address)
    if canonical is None:
        return None

    def compute() -> MailboxInfo | None:
        from webadmin.models import Mailbox

        local, _, domain = canonical.rpartition("@")
        row = Mailbox.objects.select_related("domain").filter(domain__name=domain, local_part=local).first()
        if row is None:
            return None
        return MailboxInfo(
            id=row.pk,
            address=canonical,
            local_part=row.local_part,
            domain=row.domain.name,
            name=row.name,
            quota=row.effective_quota,
            active=row.active and row.domain.active,
            can_smtp=row.can_smtp,
            can_imap=row.can_imap,
            can_pop3=row.can_pop3,
            can_webmail=row.can_webmail,
        )

    return _cached("mailbox", canonical, compute)


def authenticate(address: str, password: str, service: Service) -> MailboxInfo | None:
    """The mailbox if ``password`` is right and it may use ``service``; otherwise None.

    Password checks are never cached (the hash is read fresh), so a changed
    password takes effect at once.
    """
    info = get_mailbox(address)
    if info is None or not info.may_use(service):
        # Spend the same time as a real check, so timing does not tell who exists.
        from django.contrib.auth.hashers import make_password

        make_password(password)
        return None
    from webadmin.models import Mailbox

    fresh_connection()
    row = Mailbox.objects.filter(pk=info.id).only("password").first()
    if row is None or not row.check_password(password):
        return None
    return info


def filters_for(address: str) -> list[FilterRule]:
    """The active filters of a mailbox, in order."""
    info = get_mailbox(address)
    if info is None:
        return []

    def compute() -> list[FilterRule]:
        from webadmin.models import Filter

        return [
            FilterRule(name=f.name, match=f.match, conditions=list(f.conditions), actions=list(f.actions), stop=f.stop)
            for f in Filter.objects.filter(mailbox_id=info.id, active=True).order_by("position", "id")
        ]

    return _cached("filters", info.id, compute)


# --- aliases ------------------------------------------------------------------------------


def _alias_targets(address: str) -> tuple[list[str], bool] | None:
    """(targets, discard) of the active alias at canonical ``address`` or its catch-all."""

    def compute() -> tuple[list[str], bool] | None:
        from webadmin.models import Alias

        local, _, domain = address.rpartition("@")
        row = Alias.objects.filter(domain__name=domain, local_part=local, active=True).first()
        if row is None:
            return None
        return list(row.targets), row.discard

    return _cached("alias", address, compute)


def recipient_kind(address: str) -> RecipientKind:
    """What an RCPT address is here: a mailbox, an alias, unknown (local domain) or remote."""
    canonical = canonical_address(address)
    if canonical is None:
        return "unknown"
    domain = canonical.rpartition("@")[2]
    if canonical_domain(domain) is None:
        return "remote"
    mailbox = get_mailbox(canonical)
    if mailbox is not None:
        return "mailbox" if mailbox.active else "unknown"
    if _alias_targets(canonical) is not None or _alias_targets("@" + domain) is not None:
        return "alias"
    return "unknown"


def expand(address: str, max_depth: int = 20) -> Expansion:
    """Follow aliases recursively (multi-target, catch-all, domain aliases, discard).

    A local mailbox reached twice is listed once; a loop or a chain deeper than
    ``max_depth`` sets ``loop`` and stops that branch.
    """
    result = Expansion()
    seen: set[str] = set()

    def visit(addr: str, depth: int) -> None:
        canonical = canonical_address(addr)
        if canonical is None:
            result.unknown.append(addr)
            return
        if canonical in seen:
            return
        seen.add(canonical)
        if depth > max_depth:
            result.loop = True
            return
        domain = canonical.rpartition("@")[2]
        if canonical_domain(domain) is None:
            if canonical not in result.external:
                result.external.append(addr if "@" in addr else canonical)
            return
        mailbox = get_mailbox(canonical)
        if mailbox is not None and mailbox.active:
            if canonical not in result.mailboxes:
                result.mailboxes.append(canonical)
            return
        alias = _alias_targets(canonical)
        if alias is None and mailbox is None:
            alias = _alias_targets("@" + domain)
        if alias is None:
            result.unknown.append(canonical)
            return
        targets, discard = alias
        if discard:
            result.discarded = True
        for target in targets:
            visit(target, depth + 1)

    visit(address, 0)
    return result


def sender_addresses(mailbox_address: str) -> set[str]:
    """Addresses an authenticated user may use as envelope sender or From.

    Their own address (in the domain and its domain aliases), and every alias
    that expands to their mailbox.
    """
    info = get_mailbox(mailbox_address)
    if info is None:
        return set()

    def compute() -> set[str]:
        from webadmin.models import Alias, DomainAlias

        own = {info.address}
        for alias_domain in DomainAlias.objects.filter(target__name=info.domain, active=True).values_list(
            "name", flat=True
        ):
            own.add(f"{info.local_part}@{alias_domain}")
        for alias in Alias.objects.select_related("domain").filter(active=True).exclude(local_part=""):
            if info.address in expand(alias.address).mailboxes:
                own.add(alias.address)
        return own

    return _cached("senders", info.address, compute)


def may_send_as(mailbox_address: str, sender: str) -> bool:
    """True if the authenticated ``mailbox_address`` may send as ``sender``."""
    if sender == "":
        return True  # the null sender carries no identity to spoof
    canonical = canonical_address(sender)
    if canonical is None:
        return False
    allowed = sender_addresses(mailbox_address)
    if canonical in allowed:
        return True
    local, _, domain = canonical.rpartition("@")
    return any(
        a.rpartition("@")[0] == local and canonical_domain(a.rpartition("@")[2]) == canonical_domain(domain)
        for a in allowed
    )
