"""The landing page for superusers: health plus the few numbers that say whether mail flows."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Sum
from django.utils import timezone

from agents.models import QueueMessage, QueueRecipient, TrafficCounter

from .health import Health, health


@dataclass
class Glance:
    health: Health
    deferred: int
    held: int
    oldest_waiting: datetime.datetime | None
    last_24h: dict[str, int]


def glance(now: datetime.datetime | None = None) -> Glance:
    now = now or timezone.now()
    open_messages = QueueMessage.objects.exclude(state=QueueMessage.DONE)
    deferred = (
        open_messages.filter(state=QueueMessage.ACTIVE, recipients__state=QueueRecipient.DEFERRED).distinct().count()
    )
    held = open_messages.filter(state=QueueMessage.HELD).count()
    oldest = open_messages.order_by("created").values_list("created", flat=True).first()
    since = now.replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=23)
    rows = TrafficCounter.objects.filter(hour__gte=since).values("event").annotate(total=Sum("count"))
    totals = {row["event"]: int(row["total"] or 0) for row in rows}
    last_24h = {event: totals.get(event, 0) for event in ("received", "delivered", "relayed", "rejected", "bounced")}
    return Glance(health=health(), deferred=deferred, held=held, oldest_waiting=oldest, last_24h=last_24h)
