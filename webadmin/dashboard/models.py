"""The dashboard's own rows: a staff user's TOTP second factor."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class StaffTOTP(models.Model):
    """A TOTP secret (RFC 6238) for a staff user; login asks for a code once ``confirmed``.

    ``last_step`` is the time step of the last code accepted, so a code seen once
    (over a shoulder, in a proxy log) cannot be replayed within its 30 seconds.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_totp")
    secret = models.CharField(max_length=64)
    confirmed = models.BooleanField(default=False)
    last_step = models.BigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "staff TOTP device"

    def __str__(self) -> str:
        return f"TOTP for {self.user}"
