"""Queue management for staff: list deferred and held mail; retry, hold, release, delete.

Each action is a small state change on the queue rows plus a ``QueueEvent`` that
names who did it, so the message trace shows operator actions beside deliveries.
Delete never loses track of a message: its open recipients become "discarded"
with the reason, the row stays for the trace, and only the spool file goes.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from agents import queue as agents_queue
from agents.models import QueueEvent, QueueMessage, QueueRecipient

from .access import visible_messages

ACTIONS = ("retry", "hold", "release", "delete")


class QueueActionError(Exception):
    """The action cannot apply to this message (with a sentence for the operator)."""


def waiting(user: AbstractBaseUser, limit: int = 200) -> QuerySet[QueueMessage]:
    """Deferred and held messages the user may see, oldest first, recipients prefetched."""
    open_recipients = QueueRecipient.objects.exclude(state__in=QueueRecipient.FINAL)
    return (
        visible_messages(user)
        .exclude(state=QueueMessage.DONE)
        .filter(Q(state=QueueMessage.HELD) | Q(attempts__gt=0) | Q(recipients__state=QueueRecipient.DEFERRED))
        .distinct()
        .order_by("created")
        .prefetch_related(Prefetch("recipients", queryset=open_recipients, to_attr="open_recipients"))[:limit]
    )


def _event(message: QueueMessage, event: str, user: AbstractBaseUser, detail: str = "") -> None:
    text = f"by {user.get_username()}" + (f": {detail}" if detail else "")
    QueueEvent.objects.create(message=message, event=event, detail=text)


def apply(user: AbstractBaseUser, queue_id: str, action: str) -> str:
    """Run ``action`` on a message the user may see; returns a sentence for the page.

    Raises ``QueueMessage.DoesNotExist`` for a message outside the user's domains
    (the view answers 404, telling nothing about other domains' mail) and
    :class:`QueueActionError` when the action does not apply.
    """
    if action not in ACTIONS:
        raise QueueActionError(f"Unknown action {action!r}.")
    with transaction.atomic():
        message = visible_messages(user).select_for_update().get(queue_id=queue_id)
        if message.state == QueueMessage.DONE:
            raise QueueActionError(f"{queue_id} is already done; nothing to {action}.")
        if action == "hold":
            if message.state == QueueMessage.HELD:
                raise QueueActionError(f"{queue_id} is already held.")
            message.state = QueueMessage.HELD
            message.save(update_fields=["state"])
            _event(message, "held", user)
            return f"{queue_id} is held: it will not be delivered until released."
        if action in ("retry", "release"):
            if action == "release" and message.state != QueueMessage.HELD:
                raise QueueActionError(f"{queue_id} is not held.")
            message.state = QueueMessage.ACTIVE
            message.next_attempt = timezone.now()
            message.save(update_fields=["state", "next_attempt"])
            _event(message, "released" if action == "release" else "retry", user)
            transaction.on_commit(lambda: agents_queue.enqueue_delivery(queue_id))
            return f"{queue_id} is queued for delivery now."
        # delete
        reason = f"deleted from the queue by {user.get_username()}"
        message.recipients.exclude(state__in=QueueRecipient.FINAL).update(
            state=QueueRecipient.DISCARDED, last_error=reason, updated=timezone.now()
        )
        message.state = QueueMessage.DONE
        message.last_error = reason
        message.save(update_fields=["state", "last_error"])
        _event(message, "deleted", user)
        transaction.on_commit(lambda: agents_queue.spool.remove(queue_id))
        return f"{queue_id} is deleted: its open recipients were discarded."
