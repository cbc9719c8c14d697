"""The queue API: the one door through which every entry point submits mail.

SMTP (25/587/465), the sendmail command, webmail, the API, bounces and forwards
all call :func:`submit`. When it returns, the message and its envelope are
durable (spool file and its directory fsynced, queue rows committed); only then
may the caller say "accepted". Delivery is handed to Celery afterwards, and the
sweeper re-enqueues anything the broker lost.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import QueueEvent, QueueMessage, QueueRecipient

from . import spool
from .counters import count
from .ids import derived_queue_id, new_queue_id
from .rows import Insert

log = logging.getLogger(__name__)

__all__ = ["Envelope", "submit", "submit_grouped", "enqueue_delivery", "derived_queue_id", "new_queue_id", "spool"]

DELIVER_TASK = "agents.tasks.deliver"


@dataclass
class Envelope:
    """Who sent a message to whom, and how it reached us."""

    sender: str  # "" for the null sender <>
    recipients: list[str]
    source: str = "smtp"
    client_address: str = ""
    client_name: str = ""
    tls: str = ""
    auth_user: str = ""
    parent: str = ""
    originals: dict[str, str] = field(default_factory=dict)  # recipient → as the client wrote it
    held: bool = False  # queued on hold (the account guard stopped its sender): no delivery until released
    node: str = ""  # cluster mode: only this node may deliver it (a copy for a mailbox homed there)


_PLAIN_FIELD = re.compile(rb"^(message-id|subject):[ \t]*([\x20-\x7e]*(?:\r\n[ \t][\x20-\x7e]*)*)\r\n",
                          re.IGNORECASE | re.MULTILINE)
_PLAIN_ID = re.compile(r"<[^<>\s()]+>\Z")


def _plain_summary(head: bytes) -> tuple[str, str] | None:
    """Message-ID and Subject when both are plain (printable ASCII, no encoded word, an id of
    the usual ``<...>`` form): what the email parser would give, without building a message
    (half a millisecond per message on the reception's hot path). None: ask the parser."""
    found: dict[bytes, bytes] = {}
    for match in _PLAIN_FIELD.finditer(head):
        found.setdefault(match.group(1).lower(), match.group(2))
    lowered = head.lower()
    for name in (b"message-id", b"subject"):
        # A field the pattern did not take (8-bit text, a second one before it) goes to the parser.
        if lowered.count(b"\n" + name + b":") + lowered.startswith(name + b":") != (name in found):
            return None
    subject = found.get(b"subject", b"").replace(b"\r\n", b"").decode("ascii").strip()
    message_id = found.get(b"message-id", b"").replace(b"\r\n", b"").decode("ascii").strip()
    if "=?" in subject or (message_id and not _PLAIN_ID.match(message_id)):
        return None
    return message_id[:998], subject[:300]


def _summary(raw: bytes) -> tuple[str, str]:
    """Message-ID and Subject for the queue listing, read from the header block only."""
    head_end = raw.find(b"\r\n\r\n")
    if head_end < 0:
        head_end = raw.find(b"\n\n")
    head = raw if head_end < 0 else raw[: head_end + 2]
    plain = _plain_summary(head) if head_end >= 0 else None
    if plain is not None:
        return plain
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(head[:256 * 1024])
        message_id = str(headers.get("Message-ID", "") or "").strip()[:998]
        subject = str(headers.get("Subject", "") or "").strip()[:300]
    except Exception:  # a broken header must never refuse a message here
        return "", ""
    return message_id, subject


def submit(raw: bytes, envelope: Envelope, *, queue_id: str | None = None, enqueue: bool = True) -> str:
    """Queue ``raw`` for ``envelope.recipients`` durably and return its queue id.

    With a given ``queue_id`` (see :func:`derived_queue_id`) a second submission of
    the same id is a no-op that returns the id: this makes forwards, bounces and
    auto-replies exactly-once when the delivery that makes them is retried.
    """
    if not envelope.recipients:
        raise ValueError("a message needs at least one recipient")
    queue_id = queue_id or new_queue_id()
    if QueueMessage.objects.filter(queue_id=queue_id).exists():
        return queue_id
    if not spool.inline(len(raw)):  # else the bytes are committed with the rows (agents.queue.spool)
        spool.write(queue_id, raw)
    record(raw, envelope, queue_id)
    if enqueue and not envelope.held:
        transaction.on_commit(lambda: enqueue_delivery(queue_id, node=envelope.node))
    return queue_id


MESSAGE_FIELDS = ("queue_id", "sender", "size", "message_id", "subject", "source", "client_address",
                  "client_name", "tls", "auth_user", "parent", "state", "node")
RECIPIENT_FIELDS = ("message_id", "address", "original")
EVENT_FIELDS = ("message_id", "event", "detail")


def _values(raw: bytes, envelope: Envelope, queue_id: str) -> tuple[tuple, list[tuple], tuple]:
    """One message's rows as value tuples (``MESSAGE_FIELDS``, ``RECIPIENT_FIELDS``, ``EVENT_FIELDS``)."""
    message_id, subject = _summary(raw)
    message = (
        queue_id, envelope.sender, len(raw), message_id, subject, envelope.source, envelope.client_address,
        envelope.client_name[:255], envelope.tls, envelope.auth_user, envelope.parent,
        QueueMessage.HELD if envelope.held else QueueMessage.ACTIVE, envelope.node,
    )
    seen: set[str] = set()
    rows = []
    for rcpt in envelope.recipients:
        key = rcpt.lower()
        if key in seen:
            continue
        seen.add(key)
        rows.append((queue_id, rcpt, envelope.originals.get(rcpt, "")))
    detail = f"from <{envelope.sender}> via {envelope.source}"
    if envelope.client_address:
        detail += f" client {envelope.client_name or '?'} [{envelope.client_address}]"
    if envelope.tls:
        detail += f" tls {envelope.tls}"
    if envelope.auth_user:
        detail += f" auth {envelope.auth_user}"
    if envelope.held:
        detail += "; held by the account guard"
    return message, rows, (queue_id, "received", detail)


def _rows(raw: bytes, envelope: Envelope, queue_id: str) -> tuple[QueueMessage, list[QueueRecipient], QueueEvent]:
    """The unsaved rows that record one message's envelope."""
    values, recipients, event = _values(raw, envelope, queue_id)
    message = QueueMessage(**dict(zip(MESSAGE_FIELDS, values, strict=True)))
    rows = [QueueRecipient(message=message, address=address, original=original)
            for _, address, original in recipients]
    return message, rows, QueueEvent(message=message, event=event[1], detail=event[2])


def record(raw: bytes, envelope: Envelope, queue_id: str) -> None:
    """Commit the envelope rows of an already-durable spool file (one transaction)."""
    message, rows, event = _rows(raw, envelope, queue_id)
    try:
        with transaction.atomic():
            message.save(force_insert=True)
            if spool.inline(len(raw)):
                spool.add_rows([(queue_id, raw)])
            QueueRecipient.objects.bulk_create(rows)
            event.save()
            count("received")
    except IntegrityError:
        if not QueueMessage.objects.filter(queue_id=queue_id).exists():
            raise


def record_many(items: list[tuple[bytes, Envelope, str]]) -> None:
    """Commit the rows of several already-durable spool files in one transaction (group commit).

    All or nothing: on any error nothing is committed and the caller may fall back
    to :func:`record` per message. Rows go in with one prepared INSERT per table
    (``agents.queue.rows``), not through model instances.
    """
    built = [_values(raw, envelope, queue_id) for raw, envelope, queue_id in items]
    now = timezone.now()
    with transaction.atomic():
        _INSERT_MESSAGE.run([message for message, _, _ in built], now)
        spool.add_rows([(queue_id, raw) for raw, _, queue_id in items if spool.inline(len(raw))])
        _INSERT_RECIPIENT.run([row for _, rows, _ in built for row in rows], now)
        _INSERT_EVENT.run([event for _, _, event in built], now)
        count("received", len(built))


_INSERT_MESSAGE = Insert(QueueMessage, MESSAGE_FIELDS)
_INSERT_RECIPIENT = Insert(QueueRecipient, RECIPIENT_FIELDS)
_INSERT_EVENT = Insert(QueueEvent, EVENT_FIELDS)


def enqueue_delivery(queue_id: str, countdown: float | None = None, node: str | None = None) -> None:
    """Hand a queue id to Celery. Failure is logged, not raised: the sweeper retries.

    A message pinned to a node (cluster mode: a copy for a mailbox homed there) goes to that
    node's own queue, ``deliver.<node>``; ``node=None`` looks the pin up (cluster mode only)."""
    from agents.cluster import cluster_mode, delivery_queue
    from mailappliance.celery import app

    try:
        if app.conf.task_always_eager:  # MAILAPP_CELERY_EAGER: deliver in this process (send_task would not)
            app.loader.import_default_modules()  # registers agents.tasks
            app.tasks[DELIVER_TASK].apply(args=[queue_id])
            return
        if node is None and cluster_mode():
            node = QueueMessage.objects.filter(queue_id=queue_id).values_list("node", flat=True).first()
        app.send_task(DELIVER_TASK, args=[queue_id], countdown=countdown, queue=delivery_queue(node) if node else None)
    except Exception as exc:  # broker down: the row is durable, the sweeper will find it
        log.warning("could not hand %s to the broker (%s); the sweeper will", queue_id, exc)


def due_for_delivery(limit: int = 500) -> list[str]:
    """Queue ids whose next attempt is due (the sweeper's and flushqueue's work list)."""
    return list(
        QueueMessage.objects.filter(state=QueueMessage.ACTIVE, next_attempt__lte=timezone.now())
        .order_by("next_attempt")
        .values_list("queue_id", flat=True)[:limit]
    )


from .group import submit_grouped  # noqa: E402  (group.py imports record/record_many from here)
