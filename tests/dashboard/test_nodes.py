"""Health shows the nodes sharing the database: lease, agents, mailboxes; a restart reaches the right node."""

import datetime
import re

import pytest
from django.utils import timezone

from agents.cluster.nodes import renew
from agents.models import AgentProcess, ClusterLease, Node
from tests.dashboard.conftest import STAFF_PASSWORD


@pytest.fixture
def staff(client, superuser):
    client.login(username="root", password=STAFF_PASSWORD)
    return client


def node_row(html: str, name: str) -> str:
    found = re.search(rf'<tr data-node="{name}">(.*?)</tr>', html, re.S)
    assert found, f"no row for node {name}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))


def test_the_health_page_lists_each_node_with_its_lease_agents_and_mailboxes(staff, make_mailbox):
    renew("a", "127.0.0.2", 15, starting=True)
    renew("b", "127.0.0.3", 15, starting=True)
    Node.objects.filter(name="b").update(lease_until=timezone.now() - datetime.timedelta(minutes=1),
                                         renewed=timezone.now() - datetime.timedelta(minutes=2))
    for node, name, state in (("a", "smtp", "running"), ("a", "worker", "running"), ("b", "worker", "backoff")):
        AgentProcess.objects.create(node=node, name=name, state=state, heartbeat=timezone.now())
    make_mailbox("alice@example.com", home_node="a")
    make_mailbox("bob@example.com", home_node="a")
    make_mailbox("carol@example.com", home_node="b")
    ClusterLease.objects.create(name="periodic", holder="a", expires=timezone.now() + datetime.timedelta(minutes=1))

    html = staff.get("/dashboard/").content.decode()
    a, b = node_row(html, "a"), node_row(html, "b")
    assert "127.0.0.2" in a and "alive" in a and "periodic jobs" in a and "2 of 2" in a and a.strip().endswith("2")
    assert "expired" in b and "periodic jobs" not in b and "0 of 1" in b and b.strip().endswith("1")
    assert re.search(r"\b1[12]\d s ago\b", b), b  # last renewed two minutes ago

    link = re.search(r'href="(/dashboard/processes/worker/restart/\?node=b)"', html)
    assert link, "no restart link for node b's worker"
    staff.post(link.group(1), {"confirm": "1"})
    assert AgentProcess.objects.get(node="b", name="worker").restart_requested
    assert not AgentProcess.objects.get(node="a", name="worker").restart_requested
