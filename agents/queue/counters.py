"""Traffic counters per hour, which the dashboard draws."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

EVENTS = ("received", "delivered", "relayed", "deferred", "bounced", "rejected")


def count(event: str, amount: int = 1) -> None:
    """Add ``amount`` to this hour's counter for ``event``."""
    from agents.models import TrafficCounter

    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    with transaction.atomic():
        updated = TrafficCounter.objects.filter(hour=hour, event=event).update(count=F("count") + amount)
        if not updated:
            _, created = TrafficCounter.objects.get_or_create(hour=hour, event=event, defaults={"count": amount})
            if not created:
                TrafficCounter.objects.filter(hour=hour, event=event).update(count=F("count") + amount)
