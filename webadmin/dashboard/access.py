"""Who may see what: staff only, a second factor when enrolled, domain admins scoped.

This is the one place tenancy is decided. Every view goes through
:func:`staff_required`; every query of queue rows goes through
:func:`visible_messages`, so a domain admin never sees another domain's mail.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect
from django.urls import reverse

from agents.models import AccountHold, QueueAudit, QueueMessage, Refusal
from webadmin.models import Domain
from webadmin.services import managed_domains

OTP_SESSION_KEY = "dashboard_otp_user"

# What request.user can be; the views pass it on after staff_required checked it.
AnyUser = AbstractBaseUser | AnonymousUser


def is_superadmin(user: AnyUser) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def needs_second_factor(request: HttpRequest) -> bool:
    """True when the user enrolled TOTP but this session has not given a code yet.

    Checked on every dashboard request (not only at our login page), so logging in
    through /admin/login/ does not skip the second factor for the dashboard.
    """
    from .otp import is_enrolled

    user = request.user
    if not is_enrolled(user):
        return False
    return request.session.get(OTP_SESSION_KEY) != user.pk


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Non-staff go to the login page; enrolled staff without a code go to the code page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('dashboard:login')}?{query}")
        if needs_second_factor(request):
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('dashboard:verify')}?{query}")
        return view(request, *args, **kwargs)

    return wrapper


def superadmin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Appliance-wide pages and actions (health, restarts, traffic) are for superusers."""

    @staff_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_superadmin(request.user):
            return HttpResponseForbidden("This page is for superusers.")
        return view(request, *args, **kwargs)

    return wrapper


def domain_names(user: AnyUser) -> list[str] | None:
    """The ASCII domain names the user manages, or None for "all" (a superuser)."""
    if is_superadmin(user):
        return None
    return list(managed_domains(user).values_list("name", flat=True))


def address_in_domains(field: str, names: list[str]) -> Q:
    """A filter: ``field`` holds an address at one of ``names`` (case-insensitive)."""
    condition = Q(pk__in=[])
    for name in names:
        condition |= Q(**{f"{field}__iendswith": "@" + name})
    return condition


def visible_messages(user: AnyUser) -> QuerySet[QueueMessage]:
    """Queue rows the user may see: all for a superuser; for a domain admin those whose
    sender or any recipient is an address in one of their domains."""
    names = domain_names(user)
    messages = QueueMessage.objects.all()
    if names is None:
        return messages
    if not names:
        return messages.none()
    ids = QueueMessage.objects.filter(
        address_in_domains("sender", names) | address_in_domains("recipients__address", names)
    ).values("queue_id")
    return messages.filter(queue_id__in=ids)


def visible_domains(user: AnyUser) -> QuerySet[Domain]:
    return managed_domains(user)


def visible_refusals(user: AnyUser) -> QuerySet[Refusal]:
    """Refusal records the user may see: all for a superuser; for a domain admin those whose
    sender, recipient or authenticated account is in one of their domains."""
    names = domain_names(user)
    rows = Refusal.objects.all()
    if names is None:
        return rows
    if not names:
        return rows.none()
    condition = (address_in_domains("sender", names) | address_in_domains("recipient", names)
                 | address_in_domains("auth_user", names))
    for name in names:  # a DATA refusal names all the transaction's recipients, comma-separated
        condition |= Q(recipient__icontains=f"@{name},")
    return rows.filter(condition)


def visible_audit(user: AnyUser) -> QuerySet[QueueAudit]:
    """Queue audit records (removals, holds, releases) of messages the user could see."""
    names = domain_names(user)
    rows = QueueAudit.objects.all()
    if names is None:
        return rows
    if not names:
        return rows.none()
    condition = address_in_domains("sender", names)
    for name in names:
        condition |= Q(recipients__icontains=f"@{name},") | Q(recipients__iendswith=f"@{name}")
    return rows.filter(condition)


def visible_holds(user: AnyUser) -> QuerySet[AccountHold]:
    """Account guard holds of accounts in the user's domains (all for a superuser)."""
    names = domain_names(user)
    rows = AccountHold.objects.all()
    if names is None:
        return rows
    return rows.filter(domain__in=[n.lower() for n in names])
