"""Traffic from the hourly counters: this hour, the last 24 hours, the last 14 days."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from agents.models import TrafficCounter
from agents.queue.counters import EVENTS

from .charts import Chart, bar_chart, line_chart


@dataclass
class Traffic:
    hour_start: datetime.datetime
    this_hour: dict[str, int]
    last_24h: dict[str, int]
    last_14d: dict[str, int]
    hour_chart: Chart
    day_chart: Chart
    fortnight_chart: Chart


def _floor_hour(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def traffic(now: datetime.datetime | None = None) -> Traffic:
    """Counts per event, bucketed by hour and by local day, with charts ready to draw."""
    now = now or timezone.now()
    hour = _floor_hour(now)
    today = timezone.localtime(now).date()
    first_day = today - datetime.timedelta(days=13)
    since = min(hour - datetime.timedelta(hours=23), hour - datetime.timedelta(days=15))
    hours = [hour - datetime.timedelta(hours=h) for h in range(23, -1, -1)]
    days = [first_day + datetime.timedelta(days=d) for d in range(14)]

    hourly = {event: dict.fromkeys(hours, 0) for event in EVENTS}
    daily = {event: dict.fromkeys(days, 0) for event in EVENTS}
    for row in TrafficCounter.objects.filter(hour__gte=since, hour__lte=hour, event__in=EVENTS):
        if row.hour in hourly[row.event]:
            hourly[row.event][row.hour] += row.count
        day = timezone.localtime(row.hour).date()
        if day in daily[row.event]:
            daily[row.event][day] += row.count

    this_hour = {event: hourly[event][hour] for event in EVENTS}
    hour_labels = [timezone.localtime(h).strftime("%H:00") for h in hours]
    day_labels = [d.strftime("%d %b") for d in days]
    return Traffic(
        hour_start=hour,
        this_hour=this_hour,
        last_24h={event: sum(hourly[event].values()) for event in EVENTS},
        last_14d={event: sum(daily[event].values()) for event in EVENTS},
        hour_chart=bar_chart("This hour", this_hour),
        day_chart=line_chart("Last 24 hours", hour_labels, {e: list(hourly[e].values()) for e in EVENTS}, every=4),
        fortnight_chart=line_chart("Last 14 days", day_labels, {e: list(daily[e].values()) for e in EVENTS}, every=2),
    )
