"""Where a mailbox lives: its home node and the address that node's listeners answer on.

The one answer for everything that must reach a mailbox's home node from outside: a mail
proxy's ``auth_http`` endpoint (nginx sends IMAP and POP3 logins to the host this returns),
webmail routing. On one machine every mailbox is served here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from agents import config
from agents.models import Node

from . import cluster_mode, is_home


@dataclass(frozen=True)
class Placement:
    address: str  # the mailbox, canonical
    node: str  # its home node
    host: str  # where that node's listeners answer (its MAILAPP_NODE_ADDRESS)
    alive: bool  # the node's lease is current


def placement(address: str) -> Placement | None:
    """Where ``address`` (a mailbox, domain aliases followed) is served; None if it is no mailbox.

    In cluster mode the home node's row says where and whether it is alive (a node never seen
    has host "" and is not alive); on one machine it is this node, at ``MAILAPP_NODE_ADDRESS``."""
    info = config.get_mailbox(address)
    if info is None:
        return None
    if not cluster_mode():
        return Placement(info.address, str(settings.MAILAPP_NODE), str(settings.MAILAPP_NODE_ADDRESS), True)
    row = Node.objects.filter(name=info.home_node).values_list("address", "lease_until").first()
    if row is None:
        return Placement(info.address, info.home_node, "", False)
    host, lease_until = row
    return Placement(info.address, info.home_node, host, bool(lease_until and lease_until > timezone.now()))


def served_elsewhere(address: str) -> str:
    """Cluster mode: why this node must not open ``address``'s store (its home is another node), as a
    sentence for the client naming where to connect; "" when it is served here (always, on one
    machine). The mail protocols refuse the session with it rather than show an empty mailbox and
    store a client's writes (a Sent copy) on the wrong disk."""
    if not cluster_mode():
        return ""
    found = placement(address)
    if found is None:
        return ""
    from .move import frozen_reason

    moving = frozen_reason(found.address)  # frozen for a move: no node opens it until the switch
    if moving:
        return moving
    if is_home(found.node):
        return ""
    where = f" ({found.host})" if found.host else ""
    state = "" if found.alive else ", which is down now"
    return f"This mailbox is served by node {found.node}{where}{state}; connect there"


def home_host(address: str) -> str | None:
    """The host address of ``address``'s home node, for a proxy to connect to; None if there is no
    such mailbox or its home node is not alive now (the proxy should answer "try again later")."""
    found = placement(address)
    return found.host if found is not None and found.alive and found.host else None


def live_nodes() -> list[str]:
    """Names of the nodes whose lease is current, sorted (this node alone on one machine)."""
    if not cluster_mode():
        return [str(settings.MAILAPP_NODE)]
    return sorted(Node.objects.filter(lease_until__gt=timezone.now()).values_list("name", flat=True))


def choose_node() -> str:
    """Where a new mailbox should live: in cluster mode the live node home to the fewest mailboxes,
    this node among equals (and if none is live, and on one machine). The default of the
    dashboard's and the API's mailbox forms; an operator may choose another."""
    here = str(settings.MAILAPP_NODE)
    nodes = live_nodes()
    if not cluster_mode() or not nodes:
        return here
    counts = config.home_node_counts()
    return min(nodes, key=lambda node: (counts.get(node, 0), node != here, node))
