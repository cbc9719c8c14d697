"""Claims: one delivery run at a time per queued message, on every database.

A run takes the message with one atomic ``UPDATE … WHERE`` the claim is free or
its lease has run out (PostgreSQL locks the row and re-checks the condition;
SQLite serialises writers), so two workers handed the same queue id never both
work on it. A worker killed mid-run leaves a claim that expires after
``MAILAPP_DELIVERY_LEASE`` seconds; the sweeper then hands the message on.
"""

from __future__ import annotations

import datetime
import secrets
import time

from django.db.models import F, Q
from django.utils import timezone

from agents.models import QueueMessage

CLOCK_SKEW = datetime.timedelta(seconds=5)  # hosts whose clocks differ a little still agree on "due"


def free() -> Q:
    """Rows nobody holds (or whose holder's lease has run out)."""
    now = timezone.now()
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


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


def release(queue_id: str, token: str) -> None:
    """Give the message back (only if this run still holds it)."""
    QueueMessage.objects.filter(queue_id=queue_id, claim_token=token).update(claim_token="", claimed_until=None)


class Lease:
    """Keeps a claim alive through a long run (many domains, slow hosts).

    ``touch()`` is cheap to call often: it writes only once a third of the lease
    has gone by, and returns False if the claim was lost meanwhile.
    """

    def __init__(self, queue_id: str, token: str, seconds: int) -> None:
        self.queue_id, self.token, self.seconds = queue_id, token, seconds
        self._renewed = time.monotonic()

    def touch(self) -> bool:
        if time.monotonic() - self._renewed < self.seconds / 3:
            return True
        self._renewed = time.monotonic()
        until = timezone.now() + datetime.timedelta(seconds=self.seconds)
        return bool(QueueMessage.objects.filter(queue_id=self.queue_id, claim_token=self.token)
                    .update(claimed_until=until))
