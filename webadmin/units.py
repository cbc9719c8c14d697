"""Sizes for people: one formatter and one quota field, used by every page.

Quotas are stored in bytes (0 = unlimited) and typed in MiB or GiB. Sizes are
shown in binary units with the unit spelt out ("3.9 KiB", "1.0 GiB"), so a small
quota never rounds to "0 MiB" (which reads as unlimited).
"""

from __future__ import annotations

import shutil
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from mailcore.quota import human_size

KiB, MiB, GiB, TiB = 1024, 1024**2, 1024**3, 1024**4
UNITS = (("MiB", MiB), ("GiB", GiB))  # what a quota is typed in
MAX_QUOTA = 1024 * TiB  # 1 PiB: beyond any disk; a typo, not a plan


def format_bytes(size: int | None, unlimited: str = "") -> str:
    """``size`` in binary units with one decimal (``3.9 KiB``, ``512.0 MiB``): the one formatter.

    It is ``mailcore.quota.human_size``, which the engine's quota refusals use too,
    so a page and an SMTP reply name a size the same way. ``unlimited`` (e.g.
    "unlimited") is returned for 0 when given: a quota of 0 means no limit.
    """
    if size is None:
        return "unknown"
    if int(size) == 0 and unlimited:
        return unlimited
    return human_size(int(size))


def split_quota(size: int | None) -> tuple[str, str]:
    """A quota in bytes as (number, unit) for the form: GiB when whole, else MiB (exact, decimals kept)."""
    if size is None:
        return "", "MiB"
    if size and size % GiB == 0:
        return str(size // GiB), "GiB"
    value = (Decimal(size) / MiB).normalize()  # exact: MiB is a power of two, so no bytes are lost
    return format(value, "f"), "MiB"


class QuotaWidget(forms.MultiWidget):
    """A number box and a MiB/GiB choice side by side."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        number = forms.NumberInput(attrs={"min": "0", "step": "any", "class": "quota-number", **(attrs or {})})
        unit = forms.Select(choices=[(u, u) for u, _ in UNITS], attrs={"class": "quota-unit"})
        super().__init__([number, unit], attrs)

    def decompress(self, value: Any) -> list[Any]:
        if value in (None, ""):
            return ["", "MiB"]
        return list(split_quota(int(value)))


class QuotaField(forms.MultiValueField):
    """A quota typed as a number and a unit (MiB or GiB); cleans to bytes (None when left empty).

    0 means unlimited. A quota above 1 PiB is refused: no disk holds it, so it is a typo.
    """

    widget = QuotaWidget

    def __init__(self, *, required: bool = False, **kwargs: Any) -> None:
        fields = (forms.CharField(required=False), forms.ChoiceField(choices=[(u, u) for u, _ in UNITS]))
        kwargs.setdefault("help_text", "0 = unlimited.")
        super().__init__(fields, required=required, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> int | None:
        if not data_list or data_list[0] in (None, ""):
            if self.required:
                raise ValidationError("Give a quota (0 = unlimited).")
            return None
        return parse_quota(str(data_list[0]), str(data_list[1] or "MiB"))


def parse_quota(number: str, unit: str) -> int:
    """``number`` ``unit`` (MiB or GiB) in bytes; ValidationError with a sentence if it is not a size."""
    factors = dict(UNITS)
    if unit not in factors:
        raise ValidationError(f"Choose the unit: {', '.join(factors)}.")
    try:
        value = Decimal(number.strip().replace(",", "."))
    except InvalidOperation as exc:
        raise ValidationError("Type the quota as a number, e.g. 512 MiB or 2 GiB.") from exc
    if not value.is_finite() or value < 0:
        raise ValidationError("A quota cannot be negative.")
    size = int(value * factors[unit])
    if size > MAX_QUOTA:
        raise ValidationError(f"{format_bytes(size)} is more than any disk holds (at most {format_bytes(MAX_QUOTA)}).")
    return size


def disk_size(path: Path) -> int:
    """Total bytes of the file system holding ``path`` (its nearest existing parent); 0 if unknown."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                return int(shutil.disk_usage(candidate).total)
            except OSError:
                return 0
    return 0
