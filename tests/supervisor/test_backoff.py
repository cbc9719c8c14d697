"""A child that exits is restarted after a backoff that starts at 1 s and doubles: checked on a clock of our own."""

import sys

from agents.models import AgentProcess
from agents.supervisor import BACKOFF_MAX, BACKOFF_START, Child, Supervisor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def exited(child: Child) -> None:
    """Wait (bounded) until the real child process has exited, so the next tick sees it."""
    assert child.process is not None
    child.process.wait(timeout=30)


def test_a_crashing_child_is_restarted_after_a_doubling_backoff(transactional_db):
    clock = Clock()
    child = Child("worker", [sys.executable, "-c", "raise SystemExit(3)"])
    supervisor = Supervisor([child], clock=clock)
    supervisor.start(child)
    first_pid = child.pid
    exited(child)

    supervisor.tick()
    row = AgentProcess.objects.get(name="worker")
    assert (row.state, row.last_exit, row.restarts) == ("backoff", "exit 3", 1)
    assert child.process is None and child.restart_at == clock.now + BACKOFF_START

    clock.now += BACKOFF_START - 0.01
    supervisor.tick()
    assert child.process is None, "restarted before its backoff ran out"

    clock.now += 0.01
    supervisor.tick()
    assert child.process is not None and child.pid != first_pid
    assert AgentProcess.objects.get(name="worker").state == "running"

    exited(child)
    supervisor.tick()
    assert child.restart_at == clock.now + 2 * BACKOFF_START  # the second failure in a row waits twice as long

    for _ in range(10):  # the backoff stops growing at its ceiling
        clock.now = child.restart_at
        supervisor.tick()
        exited(child)
        supervisor.tick()
    assert child.restart_at - clock.now == BACKOFF_MAX
    assert AgentProcess.objects.get(name="worker").restarts == 12


def test_a_child_that_ran_long_enough_starts_its_backoff_afresh(transactional_db):
    clock = Clock()
    child = Child("worker", [sys.executable, "-c", "raise SystemExit(1)"], backoff=BACKOFF_MAX)
    supervisor = Supervisor([child], clock=clock)
    supervisor.start(child)
    exited(child)
    clock.now += 3600  # it ran for an hour before it exited
    supervisor.tick()
    assert child.restart_at == clock.now + BACKOFF_START
