"""Work that must run on a mailbox's home node (its disk holds the mailbox): a Celery task sent to
that node's own queue, ``deliver.<node>``, which only its worker consumes. While the node is down
the task waits in the broker; it runs when the node's worker is back."""

from __future__ import annotations

import logging

from . import delivery_queue

log = logging.getLogger(__name__)


def send_home(task: str, args: list, node: str) -> None:
    """Send ``task(*args)`` to ``node``'s queue. Raises if the broker is away: the caller's work is
    not done and must say so."""
    from mailappliance.celery import app

    app.send_task(task, args=args, queue=delivery_queue(node))
    log.info("%s%s sent to node %s", task, tuple(args), node)
