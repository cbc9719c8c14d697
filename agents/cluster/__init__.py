"""Several hosts, one mail system (docs/scaling.md).

Each host is a *node* (``MAILAPP_NODE``). Nodes share one PostgreSQL and one Redis and
nothing else: a node's mailboxes live on its own disk. This package holds what the nodes
agree on through the database: who is alive (:mod:`.nodes`), who does the periodic work
(:mod:`.lease`, :mod:`.beat`), where a mailbox lives (:mod:`.placement`), how much it
holds (:mod:`.usage`), and how work reaches its home node (:mod:`.homework`).
"""

from __future__ import annotations

from django.conf import settings


def this_node() -> str:
    return str(settings.MAILAPP_NODE)


def cluster_mode() -> bool:
    """True when several nodes share the database: mail is spooled in PostgreSQL and every
    mailbox is written only on its home node. Off (one machine), every mailbox is local,
    whatever its ``home_node`` says, so a renamed host never strands mail."""
    return bool(settings.MAILAPP_CLUSTER)


def delivery_queue(node: str) -> str:
    """The Celery queue that only ``node``'s worker consumes (local delivery to its mailboxes)."""
    return f"deliver.{node}"


def is_home(home_node: str) -> bool:
    """May this node write a mailbox whose home is ``home_node``?"""
    return not cluster_mode() or not home_node or home_node == this_node()


MOVING = "is being moved to another node"  # in a held delivery's reason (agents.cluster.move releases them)
MOVE_RETRY = 5.0  # seconds between tries of a delivery held by a move
