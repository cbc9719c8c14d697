"""Two supervisors (two nodes) share one database without overwriting each other's rows."""

import sys

from django.utils import timezone

from agents.models import AgentProcess, Node
from agents.supervisor import Child, Supervisor, default_children

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def supervisor_of(node: str, settings) -> Supervisor:
    settings.MAILAPP_NODE = node
    return Supervisor([Child("worker", SLEEPER), Child("smtp", SLEEPER)])


def test_each_node_keeps_its_own_process_rows_lease_and_restart_requests(transactional_db, settings):
    a, b = supervisor_of("a", settings), supervisor_of("b", settings)
    try:
        for supervisor in (a, b):
            for child in supervisor.children:
                supervisor.start(child)
            supervisor._heartbeat()
        rows = {(r.node, r.name): r.pid for r in AgentProcess.objects.all()}
        assert rows == {("a", "worker"): a.children[0].pid, ("a", "smtp"): a.children[1].pid,
                        ("b", "worker"): b.children[0].pid, ("b", "smtp"): b.children[1].pid}
        now = timezone.now()
        assert {n.name for n in Node.objects.all() if n.lease_until > now} == {"a", "b"}

        AgentProcess.objects.filter(node="b", name="worker").update(restart_requested=True)
        old_a, old_b = a.children[0].pid, b.children[0].pid
        a._heartbeat()
        assert a.children[0].pid == old_a, "node a restarted a process that node b was asked to restart"
        b._heartbeat()
        assert b.children[0].pid != old_b
        assert AgentProcess.objects.get(node="b", name="worker").pid == b.children[0].pid
        assert AgentProcess.objects.get(node="a", name="worker").pid == old_a
    finally:
        a.shutdown()
        b.shutdown()
    assert set(AgentProcess.objects.values_list("state", flat=True)) == {"stopped"}
    now = timezone.now()
    assert not [n.name for n in Node.objects.all() if n.lease_until > now], "a clean stop ends the node's lease"


def test_the_worker_is_named_after_its_node_and_in_cluster_mode_consumes_the_nodes_delivery_queue(settings):
    settings.MAILAPP_NODE = "b"
    argv = " ".join(next(c for c in default_children(["worker"]) if c.name == "worker").argv)
    assert "--hostname worker@b " in argv
    assert "--queues" not in argv  # one machine: nothing is ever sent to deliver.<node>
    settings.MAILAPP_CLUSTER = True
    argv = " ".join(next(c for c in default_children(["worker"]) if c.name == "worker").argv)
    assert "--queues celery,deliver.b " in argv


def test_beat_on_a_thread_of_the_worker_uses_the_lease_scheduler():
    from agents.cluster.beat import LeaderScheduler
    from mailappliance.celery import ThreadedBeat, app

    class Worker:
        pass

    worker = Worker()
    worker.app = app
    service = ThreadedBeat(worker, beat_thread=True).create(worker).service
    assert service.scheduler_cls == "agents.cluster.beat:LeaderScheduler"
    assert LeaderScheduler.__name__ in service.scheduler_cls
