"""Rate limits: messages per hour per authenticated sender or per client IP (``RateCounter`` rows).

A message counts when its MAIL FROM is accepted (attempts count too: a client
that opens transactions without finishing them is limited alike). Windows are
clock hours; old rows are removed by :func:`prune`.
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

OVER_LIMIT = "450 4.7.1 Rate limit exceeded: too many messages this hour, try again later"
TOO_MANY_RECIPIENTS = "450 4.7.1 Rate limit exceeded: too many recipients for one message"


def window(now: datetime.datetime | None = None) -> datetime.datetime:
    return (now or timezone.now()).replace(minute=0, second=0, microsecond=0)


def hit(key: str, limit: int, now: datetime.datetime | None = None) -> bool:
    """Count one message for ``key``; False (and nothing counted) when the hour's ``limit`` is reached."""
    from agents.models import RateCounter

    if limit <= 0:
        return True
    start = window(now)
    with transaction.atomic():
        if RateCounter.objects.filter(key=key, window=start, count__lt=limit).update(count=F("count") + 1):
            return True
        if RateCounter.objects.filter(key=key, window=start).exists():
            return False
        try:
            with transaction.atomic():
                RateCounter.objects.create(key=key, window=start, count=1)
        except IntegrityError:  # another session made it just now
            return bool(RateCounter.objects.filter(key=key, window=start, count__lt=limit)
                        .update(count=F("count") + 1))
    return True


def prune(now: datetime.datetime | None = None) -> int:
    """Delete windows older than a day."""
    from agents.models import RateCounter

    cutoff = window(now) - datetime.timedelta(days=1)
    return RateCounter.objects.filter(window__lt=cutoff).delete()[0]
