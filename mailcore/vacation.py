"""The dates of a vacation auto-reply: both sides read them the same way.

An ``autoreply`` filter action may carry ``start`` and ``end``, calendar days written
``YYYY-MM-DD``. Both are optional and both days count (inclusive). The configuration
validates them with :func:`parse_day`; delivery asks :func:`in_window` with today's
date in the appliance's time zone.
"""

from __future__ import annotations

import datetime
from typing import Any


def parse_day(value: Any) -> datetime.date | None:
    """The day ``value`` names, or None for no day ("" or None); ValueError for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("a day is written YYYY-MM-DD")
    try:
        return datetime.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"“{value}” is not a day (write YYYY-MM-DD)") from None


def in_window(action: dict[str, Any], today: datetime.date) -> bool:
    """Does the auto-reply ``action`` answer mail that arrives on ``today``?

    A day that cannot be read counts as absent (the configuration refuses such days;
    an old row must not silence or unleash replies by surprise either way).
    """
    try:
        start = parse_day(action.get("start"))
    except ValueError:
        start = None
    try:
        end = parse_day(action.get("end"))
    except ValueError:
        end = None
    return (start is None or start <= today) and (end is None or today <= end)
