"""The dashboard's banner of accounts the account guard stopped (on every dashboard page)."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from .access import visible_holds


def guard_banner(request: HttpRequest) -> dict:
    """``guard_holds``: open account guard holds in the staff user's domains (dashboard pages only)."""
    user = getattr(request, "user", None)
    if user is None or not request.path.startswith(reverse("dashboard:overview")):
        return {}
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return {}
    return {"guard_holds": list(visible_holds(user).filter(released__isnull=True).order_by("-created")[:10])}
