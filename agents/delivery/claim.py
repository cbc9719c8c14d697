"""Claims: one delivery run at a time per queued message, on every database.

A run takes the message with one atomic ``UPDATE … WHERE`` the claim is free or
its lease has run out (PostgreSQL locks the row and re-checks the condition;
SQLite serialises writers), so two workers handed the same queue id never both
work on it. A worker killed mid-run leaves a claim that expires after
``MAILAPP_DELIVERY_LEASE`` seconds; the sweeper then hands the message on.

:func:`claim_batch` takes, in the same transaction, other due and free messages
under the same token (a batch); PostgreSQL picks them with ``FOR UPDATE SKIP
LOCKED``, so concurrent runs take disjoint batches without waiting on each other.
"""

from __future__ import annotations

import datetime
import secrets
import time

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agents.cluster import cluster_mode, this_node
from agents.models import QueueMessage

CLOCK_SKEW = datetime.timedelta(seconds=5)  # hosts whose clocks differ a little still agree on "due"


def free() -> Q:
    """Rows nobody holds (or whose holder's lease has run out)."""
    now = timezone.now()
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def ours() -> Q:
    """Rows this node may deliver: in cluster mode, those pinned to no node or to this one (a copy
    for a mailbox homed here); on one machine, all."""
    return Q(node="") | Q(node=this_node()) if cluster_mode() else Q()


def claim(queue_id: str, lease: int) -> str | None:
    """Take ``queue_id`` for one run if it is active, due and free; return the claim token or None.

    Taking it counts an attempt, so a run that dies still moves the message on.
    """
    now = timezone.now()
    token = secrets.token_hex(8)
    taken = (
        QueueMessage.objects.filter(free(), queue_id=queue_id, state=QueueMessage.ACTIVE,
                                    next_attempt__lte=now + CLOCK_SKEW)
        .update(claim_token=token, claimed_until=now + datetime.timedelta(seconds=lease),
                attempts=F("attempts") + 1)
    )
    return token if taken else None


def claim_batch(queue_id: str | None, limit: int, lease: int) -> tuple[str, list[str]] | None:
    """Take ``queue_id`` (if it is active, due and free) and other due, free messages, oldest due first.

    At most ``limit`` in all; one transaction, one token for all of them. Taking
    counts an attempt for each. Returns (token, queue ids, ``queue_id`` first
    when it was taken), or None if nothing could be taken.
    """
    now = timezone.now()
    mine = QueueMessage.objects.filter(ours())
    if not mine.filter(free(), state=QueueMessage.ACTIVE, next_attempt__lte=now + CLOCK_SKEW).exists():
        return None  # a read first: a run with nothing to do takes no write lock (SQLite has one for all)
    token = secrets.token_hex(8)
    taking = {"claim_token": token, "claimed_until": now + datetime.timedelta(seconds=lease),
              "attempts": F("attempts") + 1}
    taken: list[str] = []
    with transaction.atomic():
        if queue_id is not None and mine.filter(
                free(), queue_id=queue_id, state=QueueMessage.ACTIVE,
                next_attempt__lte=now + CLOCK_SKEW).update(**taking):
            taken.append(queue_id)
        if limit > len(taken):
            due = mine.filter(free(), state=QueueMessage.ACTIVE, next_attempt__lte=now)
            others = list(due.select_for_update(skip_locked=True).order_by("next_attempt")
                          .values_list("queue_id", flat=True)[: limit - len(taken)])
            if others and due.filter(queue_id__in=others).update(**taking) != len(others):
                others = list(QueueMessage.objects.filter(queue_id__in=others, claim_token=token)
                              .values_list("queue_id", flat=True))
            taken += others
    return (token, taken) if taken else None


def release(queue_id: str, token: str) -> None:
    """Give the message back (only if this run still holds it)."""
    QueueMessage.objects.filter(queue_id=queue_id, claim_token=token).update(claim_token="", claimed_until=None)


def release_all(queue_ids: list[str], token: str) -> None:
    """Give back those of ``queue_ids`` this run still holds (a batch that failed)."""
    QueueMessage.objects.filter(queue_id__in=queue_ids, claim_token=token).update(claim_token="", claimed_until=None)


class Lease:
    """Keeps the claims of a run alive through a long run (many domains, slow hosts).

    ``touch()`` is cheap to call often: it writes only once a third of the lease
    has gone by, and returns False if every claim was lost meanwhile.
    """

    def __init__(self, queue_ids: list[str], token: str, seconds: int) -> None:
        self.queue_ids, self.token, self.seconds = queue_ids, token, seconds
        self._renewed = time.monotonic()

    def touch(self) -> bool:
        if time.monotonic() - self._renewed < self.seconds / 3:
            return True
        self._renewed = time.monotonic()
        until = timezone.now() + datetime.timedelta(seconds=self.seconds)
        return bool(QueueMessage.objects.filter(queue_id__in=self.queue_ids, claim_token=self.token)
                    .update(claimed_until=until))
