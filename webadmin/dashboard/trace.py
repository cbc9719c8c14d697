"""Message trace: find a message and show its whole path through the appliance."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Q

from agents.models import QueueEvent, QueueMessage, QueueRecipient, Refusal

from .access import AnyUser, visible_messages, visible_refusals

MAX_QUERY = 998  # the longest Message-ID a header line can hold
MAX_RESULTS = 50
QUEUE_ID = re.compile(r"^[0-9A-Za-z]{1,32}$")


def valid_queue_id(queue_id: str) -> bool:
    """Queue ids are short and alphanumeric; anything else cannot name a message (and never reaches SQL)."""
    return bool(QUEUE_ID.match(queue_id or ""))


def clean_query(query: str) -> str:
    """The search text without control characters (PostgreSQL refuses NUL) and at most MAX_QUERY long."""
    return "".join(ch for ch in (query or "") if ch.isprintable()).strip()[:MAX_QUERY]


@dataclass
class Trace:
    message: QueueMessage
    recipients: list[QueueRecipient]
    events: list[QueueEvent]
    parent: QueueMessage | None
    children: list[QueueMessage]


def search(user: AnyUser, query: str) -> list[QueueMessage]:
    """Messages matching a queue id, Message-ID, sender, recipient or client address exactly
    (any case); a mailbox address also finds mail delivered to it through an alias."""
    query = clean_query(query)
    if not query:
        return []
    bare = query.strip("<>").strip()
    if not bare:
        return []
    condition = (
        Q(queue_id=query.upper())
        | Q(message_id__iexact=query)
        | Q(message_id__iexact=f"<{bare}>")
        | Q(sender__iexact=bare)
        | Q(client_address=bare)
    )
    by_recipient = QueueRecipient.objects.filter(Q(address__iexact=bare) | Q(original__iexact=bare))
    condition |= Q(queue_id__in=by_recipient.values("message_id"))
    if "@" in bare:
        # Delivered through an alias (or a forward chain): the delivery event names the mailbox,
        # "<alice@example.com> INBOX uid 7", under the recipient the client gave.
        through = QueueEvent.objects.filter(event="delivered", detail__icontains=f"<{bare}>")
        condition |= Q(queue_id__in=through.values("message_id"))
    return list(visible_messages(user).filter(condition).order_by("-created")[:MAX_RESULTS])


def search_refusals(user: AnyUser, query: str) -> list[Refusal]:
    """Refusals whose sender, recipient, authenticated account or client address is ``query``."""
    bare = clean_query(query).strip("<>").strip()
    if not bare:
        return []
    condition = Q(sender__iexact=bare) | Q(recipient__iexact=bare) | Q(client_address=bare) | Q(
        auth_user__iexact=bare)
    if "@" in bare:  # DATA refusals list every recipient of the transaction
        condition |= Q(command__in=("DATA", "SUBMIT"), recipient__icontains=bare)
    return list(visible_refusals(user).filter(condition).order_by("-when", "-id")[:MAX_RESULTS])


def recent(user: AnyUser) -> tuple[list[QueueMessage], list[Refusal]]:
    """The newest messages and refusals the user may see (the trace page before a search)."""
    messages = list(visible_messages(user).order_by("-created")[:MAX_RESULTS])
    refusals = list(visible_refusals(user).order_by("-when", "-id")[:MAX_RESULTS])
    return messages, refusals


def trace(user: AnyUser, queue_id: str) -> Trace | None:
    """The message with its recipients, events, parent and children; None if not visible."""
    if not valid_queue_id(queue_id):
        return None
    visible = visible_messages(user)
    message = visible.filter(queue_id=queue_id).first()
    if message is None:
        return None
    parent = visible.filter(queue_id=message.parent).first() if message.parent else None
    return Trace(
        message=message,
        recipients=list(message.recipients.order_by("id")),
        events=list(message.events.order_by("when", "id")),
        parent=parent,
        children=list(visible.filter(parent=message.queue_id).order_by("created")[:MAX_RESULTS]),
    )
