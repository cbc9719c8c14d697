"""Node liveness: each supervisor renews its node's lease row every few seconds.

A node whose ``lease_until`` (the database's clock) has passed is dead to the others: the
dashboard says so, and the periodic-work lease it may have held expires with it.
"""

from __future__ import annotations

import datetime
import socket
from dataclasses import dataclass

from django.db.models import DateTimeField, ExpressionWrapper, Value
from django.db.models.functions import Now
from django.utils import timezone

from agents.models import AgentProcess, ClusterLease, Node

from .lease import PERIODIC


def renew(node: str, address: str, seconds: float, *, starting: bool = False) -> None:
    """Renew ``node``'s lease for ``seconds`` (making its row on first start)."""
    until = ExpressionWrapper(Now() + Value(datetime.timedelta(seconds=seconds)), output_field=DateTimeField())
    values: dict[str, object] = {"address": address, "host": socket.gethostname(), "renewed": Now(),
                                 "lease_until": until}
    if starting:
        values["started"] = Now()
    if not Node.objects.filter(name=node).update(**values):
        Node.objects.get_or_create(name=node, defaults={"address": address, "host": socket.gethostname()})
        Node.objects.filter(name=node).update(**{**values, "started": Now()})


def stopped(node: str) -> None:
    """A clean stop: the node's lease ends now."""
    Node.objects.filter(name=node).update(lease_until=Now())


@dataclass
class NodeStatus:
    """One node as the dashboard shows it."""

    name: str
    address: str
    host: str
    alive: bool
    lease_age: float | None  # seconds since the last renewal
    agents: list[AgentProcess]
    mailboxes: int
    periodic: bool = False  # holds the periodic-work lease (beat's schedule runs here)

    @property
    def running(self) -> int:
        return sum(1 for a in self.agents if a.state == "running")


def statuses(mailbox_counts: dict[str, int]) -> list[NodeStatus]:
    """Every known node with its agents and how many mailboxes it is home to (``mailbox_counts``:
    node → count, from the configuration, which the engine does not read here)."""
    now = timezone.now()
    agents: dict[str, list[AgentProcess]] = {}
    for proc in AgentProcess.objects.order_by("node", "name"):
        agents.setdefault(proc.node, []).append(proc)
    rows = {n.name: n for n in Node.objects.all()}
    lease = ClusterLease.objects.filter(name=PERIODIC, expires__gt=now).values_list("holder", flat=True).first()
    names = sorted(set(rows) | set(agents) | set(mailbox_counts))
    result = []
    for name in names:
        row = rows.get(name)
        renewed = row.renewed if row else None
        result.append(NodeStatus(
            name=name, address=row.address if row else "", host=row.host if row else "",
            alive=bool(row and row.lease_until and row.lease_until > now),
            lease_age=(now - renewed).total_seconds() if renewed else None,
            agents=agents.get(name, []), mailboxes=mailbox_counts.get(name, 0), periodic=name == lease,
        ))  # fmt: skip
    return result

