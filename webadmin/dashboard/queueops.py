"""Queue management for staff: list deferred and held mail; retry, hold, release, delete.

The state changes themselves live in ``agents.delivery.control`` (one place for
the admin, the CLI and this dashboard); this module adds what the dashboard
needs around them: the domain admin's scope and a sentence for the page.
"""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from agents.delivery import control
from agents.models import QueueMessage, QueueRecipient

from .access import AnyUser, visible_messages
from .trace import valid_queue_id

ACTIONS = ("retry", "hold", "release", "delete")


class QueueActionError(Exception):
    """The action cannot apply to this message (with a sentence for the operator)."""


def waiting(user: AnyUser, limit: int = 200) -> QuerySet[QueueMessage]:
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


def apply(user: AnyUser, queue_id: str, action: str) -> str:
    """Run ``action`` on a message the user may see; returns a sentence for the page.

    Raises ``QueueMessage.DoesNotExist`` for a message outside the user's domains
    (the view answers 404, telling nothing about other domains' mail) and
    :class:`QueueActionError` when the action does not apply.
    """
    if action not in ACTIONS:
        raise QueueActionError(f"Unknown action {action!r}.")
    if not valid_queue_id(queue_id):
        raise QueueMessage.DoesNotExist(queue_id)
    message = visible_messages(user).get(queue_id=queue_id)
    who = user.get_username()
    if message.state == QueueMessage.DONE and action != "delete":
        raise QueueActionError(f"{queue_id} is already done; nothing to {action}.")
    if action == "hold":
        if not control.hold([queue_id], who, via="dashboard"):
            raise QueueActionError(f"{queue_id} is already held.")
        return f"{queue_id} is held: it will not be delivered until released."
    if action == "release":
        if not control.release([queue_id], who, via="dashboard"):
            raise QueueActionError(f"{queue_id} is not held.")
        return f"{queue_id} is released and queued for delivery now."
    if action == "retry":
        if not control.retry([queue_id], who, via="dashboard"):
            raise QueueActionError(f"{queue_id} is held: release it to deliver it.")
        return f"{queue_id} is queued for delivery now."
    control.delete([queue_id], who, via="dashboard")
    return f"{queue_id} is deleted from the queue; nothing was bounced."
