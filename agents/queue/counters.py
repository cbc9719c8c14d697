"""Traffic counters per hour, which the dashboard draws."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

EVENTS = ("received", "delivered", "relayed", "deferred", "bounced", "rejected")

_update_sql: str | None = None


def _update() -> str:
    """``UPDATE … SET count = count + %s WHERE hour = %s AND event = %s``, built once: the
    ORM's ``filter().update(F(...))`` compiled it anew for every group commit and delivery
    batch (about 1 ms of CPU each, the largest part of a one-message group's commit)."""
    global _update_sql
    if _update_sql is None:
        from agents.models import TrafficCounter

        meta, quote = TrafficCounter._meta, connection.ops.quote_name
        columns = {f.name: quote(str(f.column)) for f in meta.concrete_fields}
        count, hour, event = columns["count"], columns["hour"], columns["event"]
        _update_sql = f"UPDATE {quote(meta.db_table)} SET {count} = {count} + %s WHERE {hour} = %s AND {event} = %s"
    return _update_sql


def count(event: str, amount: int = 1) -> None:
    """Add ``amount`` to this hour's counter for ``event``."""
    from agents.models import TrafficCounter

    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    db = connections[DEFAULT_DB_ALIAS]  # once: each attribute of django.db.connection is two look-ups
    stamp = db.ops.adapt_datetimefield_value(hour)
    if db.in_atomic_block:  # the caller's transaction: no savepoint unless the row is missing
        from .rows import _mark

        if db.connection is None:
            db.ensure_connection()
        cursor = db.connection.cursor()
        try:
            cursor.execute(_update().replace("%s", _mark()), [amount, stamp, event])
            if cursor.rowcount:
                return
        finally:
            cursor.close()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_update(), [amount, stamp, event])
            updated = cursor.rowcount
        if not updated:  # the hour's first: make its row (another process may make it first)
            _, created = TrafficCounter.objects.get_or_create(hour=hour, event=event, defaults={"count": amount})
            if not created:
                TrafficCounter.objects.filter(hour=hour, event=event).update(count=F("count") + amount)
