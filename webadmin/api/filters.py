"""Query-string filters of the list endpoints (django-filter).

Names and addresses may be given in any case and in Unicode; they are compared
in the stored form (lowercase local part, ASCII domain).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet

from agents.models import AgentProcess, QueueMessage
from mailcore.addresses import AddressError, normalize_domain, split_address
from webadmin.models import Alias, Domain, DomainAlias, Filter, Mailbox


def ascii_domain(value: str) -> str:
    """The stored form of a domain name, or the value lowercased if it is not one (it then matches nothing)."""
    try:
        return normalize_domain(value)
    except AddressError:
        return value.strip().lower()


def address_lookup(value: str, prefix: str = "") -> dict[str, str] | None:
    """ORM lookups for ``local@domain`` or ``@domain`` (catch-all) on a model with domain + local_part.

    None when ``value`` is not an address, so the caller matches nothing (404 or an empty list).
    """
    value = value.strip()
    if value.startswith("@"):
        return {f"{prefix}domain__name": ascii_domain(value[1:]), f"{prefix}local_part": ""}
    try:
        local, domain = split_address(value)
    except AddressError:
        return None
    return {f"{prefix}domain__name": domain, f"{prefix}local_part": local.lower()}


class DomainNameFilter(django_filters.CharFilter):
    """Exact domain name in any spelling."""

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        return qs.filter(**{self.field_name: ascii_domain(value)})


class DomainFilterSet(django_filters.FilterSet):
    name = DomainNameFilter(field_name="name", help_text="Exact domain name (ASCII or Unicode).")

    class Meta:
        model = Domain
        fields = ["name", "active"]


class DomainAliasFilterSet(django_filters.FilterSet):
    name = DomainNameFilter(field_name="name", help_text="Exact alias domain name.")
    target = DomainNameFilter(field_name="target__name", help_text="Domain the alias points at.")

    class Meta:
        model = DomainAlias
        fields = ["name", "target", "active"]


class AddressFilter(django_filters.CharFilter):
    """Exact mail address (or ``@domain`` for a catch-all alias)."""

    def __init__(self, *args: Any, prefix: str = "", **kwargs: Any) -> None:
        self.prefix = prefix
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        lookup = address_lookup(value, self.prefix)
        return qs.none() if lookup is None else qs.filter(**lookup)


class MailboxFilterSet(django_filters.FilterSet):
    domain = DomainNameFilter(field_name="domain__name", help_text="Mailboxes of this domain.")
    address = AddressFilter(help_text="Exact address, any case.")

    class Meta:
        model = Mailbox
        fields = ["domain", "address", "active"]


class AliasFilterSet(django_filters.FilterSet):
    domain = DomainNameFilter(field_name="domain__name", help_text="Aliases of this domain.")
    address = AddressFilter(help_text="Exact address, or @domain for the catch-all.")
    catchall = django_filters.BooleanFilter(method="filter_catchall", help_text="Only catch-alls (or none).")

    class Meta:
        model = Alias
        fields = ["domain", "address", "active", "discard", "catchall"]

    def filter_catchall(self, qs: QuerySet[Alias], name: str, value: bool | None) -> QuerySet[Alias]:
        if value is None:
            return qs
        return qs.filter(local_part="") if value else qs.exclude(local_part="")


class FilterFilterSet(django_filters.FilterSet):
    mailbox = AddressFilter(prefix="mailbox__", help_text="Filters of the mailbox at this address.")
    domain = DomainNameFilter(field_name="mailbox__domain__name", help_text="Filters of this domain's mailboxes.")

    class Meta:
        model = Filter
        fields = ["mailbox", "domain", "active"]


class QueueFilterSet(django_filters.FilterSet):
    sender = django_filters.CharFilter(field_name="sender", lookup_expr="iexact", help_text="Envelope sender.")
    recipient = django_filters.CharFilter(
        field_name="recipients__address", lookup_expr="iexact", distinct=True, help_text="An envelope recipient."
    )

    class Meta:
        model = QueueMessage
        fields = ["state", "sender", "recipient", "source"]


class AgentFilterSet(django_filters.FilterSet):
    class Meta:
        model = AgentProcess
        fields = ["state", "host", "node"]
