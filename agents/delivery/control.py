"""Queue management: list, hold, release, retry, delete — one place for the admin and the CLI.

``manage.py mailq`` / ``flushqueue`` / ``queuectl`` and the Django admin's queue
actions all call these, so they behave the same everywhere.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from agents.models import QueueAudit, QueueEvent, QueueMessage, QueueRecipient
from agents.queue import enqueue_delivery, spool


@dataclass(frozen=True)
class QueueEntry:
    """One line of ``mailq``."""

    queue_id: str
    state: str
    size: int
    created: datetime.datetime
    sender: str
    recipients: list[tuple[str, str, str]]  # (address, state, last error)
    last_error: str


def listing(include_done: bool = False) -> list[QueueEntry]:
    """Messages in the queue (active and held; done too if asked), oldest first."""
    states = [QueueMessage.ACTIVE, QueueMessage.HELD] + ([QueueMessage.DONE] if include_done else [])
    messages = list(QueueMessage.objects.filter(state__in=states).order_by("created"))
    rows: dict[str, list[tuple[str, str, str]]] = {m.queue_id: [] for m in messages}
    for r in QueueRecipient.objects.filter(message_id__in=list(rows)).order_by("id"):
        rows[r.message_id].append((r.address, r.state, r.last_error))
    return [QueueEntry(m.queue_id, m.state, m.size, m.created, m.sender, rows[m.queue_id], m.last_error)
            for m in messages]


VIAS = (QueueAudit.DASHBOARD, QueueAudit.ADMIN, QueueAudit.API, QueueAudit.CLI, QueueAudit.GUARD)


def _note(queue_ids: Iterable[str], event: str, detail: str) -> None:
    QueueEvent.objects.bulk_create([QueueEvent(message_id=q, event=event, detail=detail) for q in queue_ids])


def _audit(queue_ids: list[str], action: str, who: str, via: str) -> None:
    """One ``QueueAudit`` row per message: who did ``action`` and through which door."""
    if not queue_ids:
        return
    messages = {m.queue_id: m for m in QueueMessage.objects.filter(queue_id__in=queue_ids)}
    recipients: dict[str, list[str]] = {q: [] for q in queue_ids}
    for queue_id, address in QueueRecipient.objects.filter(message_id__in=queue_ids).values_list("message_id",
                                                                                                 "address"):
        recipients[queue_id].append(address)
    QueueAudit.objects.bulk_create([
        QueueAudit(queue_id=q, action=action, who=(who or "")[:320], via=via if via in VIAS else QueueAudit.CLI,
                   sender=messages[q].sender if q in messages else "",
                   recipients=", ".join(recipients[q])[:10000],
                   subject=messages[q].subject if q in messages else "")
        for q in queue_ids
    ])


def hold(queue_ids: Iterable[str], who: str = "", via: str = "cli") -> list[str]:
    """Stop delivery attempts for active messages; returns the ids held."""
    ids = list(QueueMessage.objects.filter(queue_id__in=list(queue_ids), state=QueueMessage.ACTIVE)
               .values_list("queue_id", flat=True))
    with transaction.atomic():
        QueueMessage.objects.filter(queue_id__in=ids).update(state=QueueMessage.HELD)
        _note(ids, "held", f"held by {who or 'an operator'} via {via}")
        _audit(ids, "hold", who, via)
    return ids


def release(queue_ids: Iterable[str], who: str = "", via: str = "cli") -> list[str]:
    """Put held messages back in the queue and try them now."""
    ids = list(QueueMessage.objects.filter(queue_id__in=list(queue_ids), state=QueueMessage.HELD)
               .values_list("queue_id", flat=True))
    with transaction.atomic():
        QueueMessage.objects.filter(queue_id__in=ids).update(state=QueueMessage.ACTIVE, next_attempt=timezone.now())
        _note(ids, "released", f"released by {who or 'an operator'} via {via}")
        _audit(ids, "release", who, via)
    for queue_id in ids:
        enqueue_delivery(queue_id)
    return ids


def retry(
    queue_ids: Iterable[str] | None = None, who: str = "", enqueue: bool = True, via: str = "cli"
) -> list[str]:
    """Try active messages now (all of them when ``queue_ids`` is None: ``flushqueue``).

    With ``enqueue=False`` they are only made due (the caller runs them itself).
    """
    rows = QueueMessage.objects.filter(state=QueueMessage.ACTIVE)
    if queue_ids is not None:
        rows = rows.filter(queue_id__in=list(queue_ids))
    ids = list(rows.values_list("queue_id", flat=True))
    with transaction.atomic():
        QueueMessage.objects.filter(queue_id__in=ids).update(next_attempt=timezone.now())
        _note(ids, "retry", f"retry now by {who or 'an operator'} via {via}")
    for queue_id in ids if enqueue else []:
        enqueue_delivery(queue_id)
    return ids


def delete(queue_ids: Iterable[str], who: str = "", via: str = "cli") -> list[str]:
    """Remove messages from the queue for good: rows and spool files. Nothing is bounced.

    A ``QueueAudit`` row per message keeps who removed it, through which door (``via``:
    dashboard, admin, api, cli, guard), and what it was (sender, recipients, subject).
    """
    ids = list(QueueMessage.objects.filter(queue_id__in=list(queue_ids)).values_list("queue_id", flat=True))
    with transaction.atomic():
        _audit(ids, "delete", who, via)
        QueueMessage.objects.filter(queue_id__in=ids).delete()
    for queue_id in ids:
        spool.remove(queue_id)
    return ids
