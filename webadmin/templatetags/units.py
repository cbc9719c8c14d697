"""``{% load units %}``: ``{{ bytes|size }}`` and ``{{ quota|quota }}`` (0 = unlimited), one formatter everywhere."""

from __future__ import annotations

from django import template

from webadmin.units import format_bytes

register = template.Library()


@register.filter
def size(value: int | None) -> str:
    return format_bytes(value)


@register.filter
def quota(value: int | None) -> str:
    return format_bytes(value, unlimited="unlimited")
