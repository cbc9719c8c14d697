"""Who may see what: the API's tenancy rules, all in this module.

The roles are the admin's: a superuser sees everything; a staff user with a
``DomainAdmin`` row sees the objects of the domains listed there
(``services.managed_domains``). Objects outside a caller's domains are not
refused with 403 but simply absent from its querysets, so a domain admin gets
``404`` for them and cannot tell "elsewhere" from "nowhere". Everyone else
(non-staff, and mailbox users, who have no Django user) gets 401/403.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from rest_framework import permissions
from rest_framework.request import Request

from agents.models import QueueMessage
from webadmin.models import Alias, Domain, DomainAlias, Filter, Mailbox
from webadmin.services import managed_domains

M = TypeVar("M", bound=Model)


def is_superadmin(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_staff", False) and user.is_superuser)


# The ORM path from each configuration model to its Domain ("" for Domain itself).
DOMAIN_PATHS: dict[type[Model], str] = {
    Domain: "",
    DomainAlias: "target",
    Mailbox: "domain",
    Alias: "domain",
    Filter: "mailbox__domain",
}


def scope(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """What ``user`` may see of ``queryset``: the tenancy rule of every endpoint, by model.

    Configuration objects by their domain, queued mail by its sender and recipients;
    anything else (the agents) is engine-wide state that only a superadmin sees.
    """
    if is_superadmin(user):
        return queryset
    if queryset.model is QueueMessage:
        return scoped_queue(queryset, user)
    if queryset.model in DOMAIN_PATHS:
        return scoped(queryset, user, DOMAIN_PATHS[queryset.model])
    return queryset.none()


def scoped(queryset: QuerySet[M], user: Any, domain_path: str) -> QuerySet[M]:
    """``queryset`` cut down to the objects of the domains ``user`` manages.

    ``domain_path`` is the ORM path from the model to its ``Domain`` ("domain",
    "target", "mailbox__domain"), or "" for ``Domain`` itself.
    """
    if is_superadmin(user):
        return queryset
    domains = managed_domains(user)
    if not domain_path:
        return queryset.filter(pk__in=domains.values("pk"))
    return queryset.filter(**{f"{domain_path}__in": domains.values("pk")})


def visible_domain_names(user: Any) -> set[str] | None:
    """The ASCII names of the domains ``user`` manages, or None for "all" (a superadmin)."""
    if is_superadmin(user):
        return None
    return set(managed_domains(user).values_list("name", flat=True))


def scoped_queue(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """Queued messages a domain admin may see: sent from or to one of its domains."""
    names = visible_domain_names(user)
    if names is None:
        return queryset
    if not names:
        return queryset.none()
    condition = Q()
    for name in names:
        condition |= Q(sender__iendswith="@" + name) | Q(recipients__address__iendswith="@" + name)
    return queryset.filter(condition).distinct()


_ADDRESS = re.compile(r"[^\s@“”\"'<>,→]*@([A-Za-z0-9.-]+[A-Za-z0-9])")


def redact_foreign_addresses(text: str, user: Any) -> str:
    """``text`` with the addresses of other tenants' domains blanked out, for a domain admin.

    A model error may name addresses the caller cannot see (an alias loop passing
    through another domain); it keeps its meaning without giving them away.
    """
    if is_superadmin(user) or "@" not in text:
        return text
    visible = visible_domain_names(user) or set()
    local = set(Domain.objects.values_list("name", flat=True))

    def blank(match: re.Match[str]) -> str:
        domain = match.group(1).lower()
        return match.group(0) if domain in visible or domain not in local else "(an address of another domain)"

    return _ADDRESS.sub(blank, text)


def may_use_domain(user: Any, ascii_name: str) -> bool:
    """True if ``user`` may create objects in the domain ``ascii_name`` (which must exist)."""
    return managed_domains(user).filter(name=ascii_name).exists()


class IsStaff(permissions.BasePermission):
    """Active staff users only (superadmins and domain admins)."""

    message = "This API is for staff users (superadmins and domain admins)."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)


class SuperadminOnly(IsStaff):
    """For what concerns the whole appliance: agents, creating and deleting domains."""

    message = "Only a superadmin may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and is_superadmin(request.user)


class SuperadminCreatesAndDeletes(IsStaff):
    """Domain admins may read and change their domains but not add or remove domains."""

    message = "Only a superadmin may create or delete domains."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if getattr(view, "action", None) in ("create",):
            return is_superadmin(request.user)
        return True

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        # Reached only for objects in the caller's scope, so a 403 here tells nothing new.
        if getattr(view, "action", None) == "destroy":
            return is_superadmin(request.user)
        return True
