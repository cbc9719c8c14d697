"""A lease row: at most one node at a time holds a named job (beat's periodic work).

Taking and renewing are one ``UPDATE … WHERE holder = me OR expires < now()`` each, with
``now()`` the database's clock, so hosts whose clocks differ still agree. A holder believes
it holds the lease only until its *own* monotonic clock says ``seconds`` minus a margin have
gone by since it asked, so a holder that stalls (a long GC pause, a stopped process, a lost
connection) stops working before anyone else may take over.
"""

from __future__ import annotations

import datetime
import logging
import time

from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Now

from agents.models import ClusterLease

log = logging.getLogger(__name__)

PERIODIC = "periodic"
MARGIN = 0.25  # of the lease: a holder stops believing it this long before the row expires


def _db_now_plus(seconds: float) -> ExpressionWrapper:
    return ExpressionWrapper(Now() + Value(datetime.timedelta(seconds=seconds)), output_field=DateTimeField())


class LeaseHolder:
    """One node's side of the lease ``name``. Not thread-safe: one per thread."""

    def __init__(self, name: str, node: str, seconds: float, clock=time.monotonic) -> None:
        self.name, self.node, self.seconds, self.clock = name, node, seconds, clock
        self._valid_until = 0.0

    def held(self) -> bool:
        """Does this node hold the lease now, by its own clock (no database round trip)?"""
        return self.clock() < self._valid_until

    def acquire(self) -> bool:
        """Take or renew the lease if it is free, expired or already ours; True if we hold it now.

        A database error counts as "not held" (the node stops its periodic work rather than risk
        running it beside another)."""
        asked = self.clock()
        try:
            close_old_connections()
            mine = self._take()
        except Exception as exc:
            log.warning("lease %s: could not reach the database (%s); not holding it", self.name, exc)
            mine = False
        was = self.held()
        self._valid_until = asked + self.seconds * (1 - MARGIN) if mine else 0.0
        if mine and not was:
            log.info("lease %s: taken by node %s", self.name, self.node)
        elif was and not mine:
            log.warning("lease %s: lost by node %s", self.name, self.node)
        return mine

    def _take(self) -> bool:
        taking = {"holder": self.node, "expires": _db_now_plus(self.seconds)}
        free = Q(holder=self.node) | Q(expires__isnull=True) | Q(expires__lt=Now())
        changed = ClusterLease.objects.filter(free, name=self.name)
        if changed.exclude(holder=self.node).update(**taking, acquired=Now()):
            return True
        if changed.filter(holder=self.node).update(**taking):
            return True
        if ClusterLease.objects.filter(name=self.name).exists():
            return False
        try:
            with transaction.atomic():
                ClusterLease.objects.create(name=self.name, holder=self.node)
        except IntegrityError:  # another node made the row first: it holds the lease
            return False
        return bool(ClusterLease.objects.filter(name=self.name, holder=self.node).update(**taking, acquired=Now()))

    def release(self) -> None:
        """Give the lease up at once (a clean stop), so another node need not wait for it to expire."""
        self._valid_until = 0.0
        try:
            close_old_connections()
            ClusterLease.objects.filter(name=self.name, holder=self.node).update(expires=F("acquired"))
        except Exception as exc:
            log.warning("lease %s: could not release it (%s); it expires by itself", self.name, exc)
