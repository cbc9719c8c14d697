"""TOTP second factor for staff (RFC 6238, via pyotp).

Enrolment: :func:`begin` makes a secret (unconfirmed), the user scans the
otpauth URI (QR code) and :func:`confirm` checks one code; from then on login
asks for a code (:func:`verify`). A code is accepted once (replay guard).
"""

from __future__ import annotations

import time

import pyotp
from django.conf import settings
from django.db import transaction

from .access import AnyUser
from .models import StaffTOTP

ISSUER = "mailappliance"
STEP = 30


def _uid(user: AnyUser) -> int:
    """The user's primary key; callers have checked the user is logged in."""
    if user.pk is None:
        raise ValueError("an anonymous user has no second factor")
    return int(user.pk)


def is_enrolled(user: AnyUser) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return StaffTOTP.objects.filter(user_id=_uid(user), confirmed=True).exists()


def begin(user: AnyUser) -> StaffTOTP:
    """The user's device, with a fresh secret unless it is already confirmed."""
    device, created = StaffTOTP.objects.get_or_create(user_id=_uid(user), defaults={"secret": pyotp.random_base32()})
    if not created and not device.confirmed:
        device.secret = pyotp.random_base32()
        device.save(update_fields=["secret"])
    return device


def provisioning_uri(device: StaffTOTP) -> str:
    label = f"{device.user.get_username()}@{settings.MAILAPP_HOSTNAME}"
    return pyotp.TOTP(device.secret).provisioning_uri(name=label, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (no image files, no JavaScript)."""
    import segno  # only when a staff user enrols: ~1 MiB the web process need not hold until then

    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff")


def _clean(code: str) -> str:
    return "".join(ch for ch in (code or "") if ch.isdigit())[:10]


def _accept(device: StaffTOTP, code: str, now: float | None = None) -> bool:
    """Check ``code`` against the window ±1 step and refuse a step used before."""
    code = _clean(code)
    if len(code) != 6:
        return False
    now = time.time() if now is None else now
    totp = pyotp.TOTP(device.secret)
    current = int(now // STEP)
    for step in (current, current - 1, current + 1):
        if step <= device.last_step:
            continue
        if totp.verify(code, for_time=step * STEP, valid_window=0):
            with transaction.atomic():
                # Conditional update: two logins racing with one code, only one wins.
                won = StaffTOTP.objects.filter(pk=device.pk, last_step__lt=step).update(last_step=step)
            if won:
                device.last_step = step
                return True
            return False
    return False


def confirm(user: AnyUser, code: str) -> bool:
    """Finish enrolment when ``code`` matches the pending secret."""
    device = StaffTOTP.objects.filter(user_id=_uid(user)).first()
    if device is None or not _accept(device, code):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return True


def verify(user: AnyUser, code: str) -> bool:
    """True when ``user`` has a confirmed device and ``code`` is a fresh valid code."""
    device = StaffTOTP.objects.filter(user_id=_uid(user), confirmed=True).first()
    return device is not None and _accept(device, code)


def disable(user: AnyUser) -> None:
    StaffTOTP.objects.filter(user_id=_uid(user)).delete()
