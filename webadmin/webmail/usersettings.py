"""The user's own settings: password, filters, vacation auto-reply, forwarding.

Filters, vacation and forwarding are the one rule builder of ``webadmin.rules``
(the dashboard uses the same), applied to the signed-in mailbox only.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from webadmin.models import Mailbox
from webadmin.passwords import validate_mailbox_password
from webadmin.rules import (  # noqa: F401  (the webmail views use these names from here)
    ACTION_ROWS,
    CONDITION_ROWS,
    FilterForm,
    RuleError,
    delete_filter,
    filters_of,
    forwarding_of,
    own_filter,
    save_filter,
    set_forwarding,
    set_vacation,
    vacation_of,
)

SettingsError = RuleError  # a settings change was refused; the message says why


# --- password -----------------------------------------------------------------------------


def change_password(mailbox_id: int, old: str, new: str, repeat: str) -> None:
    """Set a new mail password after checking the old one (raises SettingsError)."""
    mailbox = Mailbox.objects.get(pk=mailbox_id)
    if not mailbox.check_password(old or ""):
        raise SettingsError("Your current password is not right.")
    if new != repeat:
        raise SettingsError("The two new passwords differ.")
    if new == old:
        raise SettingsError("Choose a password different from the current one.")
    try:
        validate_mailbox_password(new, mailbox.local_part, mailbox.domain.name, mailbox.name)
    except ValidationError as exc:
        raise SettingsError(" ".join(exc.messages)) from exc
    mailbox.set_password(new)
    mailbox.save(update_fields=["password"])
