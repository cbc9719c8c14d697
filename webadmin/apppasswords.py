"""App passwords from the web forms (webmail settings and the dashboard's mailbox page).

The rules live on :class:`webadmin.models.AppPassword`; this module turns a posted
form into a call to ``AppPassword.issue`` and revokes only within one mailbox, so
a form can never name another mailbox's app password.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import APP_PASSWORD_SCOPES, AppPassword, Mailbox

MAX_DAYS = 3650


def scope_choices() -> list[tuple[str, str]]:
    return list(APP_PASSWORD_SCOPES)


def of(mailbox_id: int) -> list[AppPassword]:
    return list(AppPassword.objects.filter(mailbox_id=mailbox_id).order_by("-created", "-id"))


def issue_from_form(mailbox: Mailbox, post: Any) -> tuple[AppPassword, str]:
    """Create from ``name``, ``scopes`` (repeated) and ``days`` (empty: no expiry); raises ValidationError."""
    days_text = str(post.get("days", "") or "").strip()
    expires = None
    if days_text:
        if not days_text.isdigit() or not 1 <= int(days_text) <= MAX_DAYS:
            raise ValidationError({"expires": f"Give the days it stays valid as a number from 1 to {MAX_DAYS}."})
        expires = timezone.now() + datetime.timedelta(days=int(days_text))
    scopes = [str(s) for s in post.getlist("scopes")[:10]]
    return AppPassword.issue(mailbox, str(post.get("name", ""))[:100], scopes, expires)


def revoke(mailbox_id: int, pk: Any) -> bool:
    """Delete app password ``pk`` of this mailbox; False if it has none such."""
    if not str(pk).isdigit() or len(str(pk)) > 18:
        return False
    row = AppPassword.objects.filter(mailbox_id=mailbox_id, pk=int(pk)).first()
    if row is None:
        return False
    row.delete()
    return True


def error_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(m for messages in exc.message_dict.values() for m in messages)
    return " ".join(exc.messages)
