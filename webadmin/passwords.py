"""Mailbox passwords: the staff password rules (AUTH_PASSWORD_VALIDATORS) and a generator.

Every place a mailbox password is set (dashboard, Django admin, API, the
``createmailbox``/``setpassword`` commands, webmail's password change) calls
:func:`validate_mailbox_password`, so ``1`` is refused everywhere with the same
sentences Django gives staff.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password

GENERATED_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud, typed by hand
GENERATED_GROUPS = 4  # 4 groups of 5 from 31 symbols: 20 × log2(31) ≈ 99 bits


def validate_mailbox_password(raw: str, local_part: str = "", domain: str = "", name: str = "") -> None:
    """Raise ValidationError (Django's sentences) unless ``raw`` passes the staff password validators.

    The similarity check compares with the address and the display name, as it
    compares a staff password with the user name and e-mail.
    """
    # An unsaved user stands in: the similarity check reads its fields' names for the message.
    who = get_user_model()(username=local_part, email=f"{local_part}@{domain}" if local_part and domain else "",
                           first_name=name[:150])
    validate_password(raw, who)


def generate_password() -> str:
    """A random password people can read out and type: ``xxxxx-xxxxx-xxxxx-xxxxx`` (~99 bits)."""
    chars = "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(5 * GENERATED_GROUPS))
    return "-".join(chars[i : i + 5] for i in range(0, len(chars), 5))
