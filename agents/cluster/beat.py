"""Celery beat that does its periodic work only on the node holding the ``periodic`` lease.

Every node may run beat (a beat process, or a thread of the worker on the small profile);
each one ticks through the schedule as usual, but sends a due task only while its node holds
the lease (:class:`agents.cluster.lease.LeaseHolder`). A follower retries the lease every
third of ``MAILAPP_NODE_LEASE``; when the leader dies its row expires and a follower takes
over within one lease. A node that takes over sends the queue sweep at once, so the messages
a dead node's worker was holding are handed on without waiting for the next half minute.

Settings: ``CELERY_BEAT_SCHEDULER`` names this class; on one machine it is the only node and
holds the lease all along.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings

from .lease import PERIODIC, LeaseHolder

log = logging.getLogger(__name__)

SWEEP_TASK = "agents.tasks.sweep_queue"


class LeaderScheduler(PersistentScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lease = LeaseHolder(PERIODIC, str(settings.MAILAPP_NODE), float(settings.MAILAPP_NODE_LEASE))
        self._renew_at = 0.0
        super().__init__(*args, **kwargs)

    def _keep_lease(self) -> None:
        now = time.monotonic()
        if now < self._renew_at:
            return
        was = self.lease.held()
        self.lease.acquire()
        self._renew_at = now + self.lease.seconds / 3
        if self.lease.held() and not was:
            self._took_over()

    def _took_over(self) -> None:
        try:
            self.app.send_task(SWEEP_TASK, kwargs={"grace": 0})
        except Exception as exc:  # the broker is away: the schedule's own sweep follows
            log.warning("could not send the take-over sweep: %s", exc)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        self._keep_lease()
        wait = super().tick(*args, **kwargs)
        return max(0.0, min(wait, self._renew_at - time.monotonic()))

    def apply_entry(self, entry: Any, producer: Any = None) -> None:
        if not self.lease.held():  # a follower: another node does the periodic work
            log.debug("beat: %s skipped, node %s does not hold the periodic lease", entry.name, self.lease.node)
            return
        super().apply_entry(entry, producer=producer)

    def close(self) -> None:
        try:
            if self.lease.held():
                self.lease.release()
        finally:
            super().close()
