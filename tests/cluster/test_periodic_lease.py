"""One node at a time holds the periodic-work lease; another takes over only after it expires.

Threads stand for nodes here (each has its own database connection, as a host would); the
beat processes of tests/cluster/test_beat_leader.py show the same with real processes.
"""

import threading
import time

from django.db import connection

from agents.cluster.lease import LeaseHolder
from agents.models import ClusterLease
from tests.conftest import wait_until

LEASE = 3.0  # seconds: a takeover within the test, and longer than a thread stalls on a busy machine


class Node(threading.Thread):
    """A node's periodic-work loop: renew the lease every third of it, work while holding it."""

    def __init__(self, name: str, board: "Board") -> None:
        super().__init__(name=f"node-{name}", daemon=True)
        self.holder = LeaseHolder("periodic-test", name, LEASE)
        self.board = board
        self.alive = True
        self.worked = 0

    def run(self) -> None:
        try:
            while self.alive:
                self.holder.acquire()
                renew_at = time.monotonic() + LEASE / 3
                while self.alive and time.monotonic() < renew_at:
                    if self.holder.held():
                        self.board.work(self.holder.node)
                        self.worked += 1
                    time.sleep(0.01)
        finally:
            connection.close()


class Board:
    """Records every unit of periodic work; fails the test if two nodes ever work at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.working: set[str] = set()
        self.overlaps: list[set[str]] = []

    def work(self, node: str) -> None:
        with self.lock:
            self.working.add(node)
            if len(self.working) > 1:
                self.overlaps.append(set(self.working))
        time.sleep(0.002)
        with self.lock:
            self.working.discard(node)


def test_two_nodes_never_both_do_periodic_work_and_the_second_takes_over_after_the_first_dies(transactional_db):
    board = Board()
    a = Node("a", board)
    a.start()
    wait_until(lambda: a.worked > 0, "node a to take the free lease", timeout=20)
    b = Node("b", board)
    b.start()
    try:
        wait_until(lambda: a.worked > 100, "node a to keep working", timeout=20)
        renewals = 0
        last = ClusterLease.objects.get(name="periodic-test").expires
        while renewals < 3:  # a renews three times while b asks all along
            wait_until(lambda seen=last: ClusterLease.objects.get(name="periodic-test").expires != seen,
                       "node a to renew its lease", timeout=20)
            last = ClusterLease.objects.get(name="periodic-test").expires
            renewals += 1
        assert b.worked == 0, "node b worked while node a held the lease"
        assert ClusterLease.objects.get(name="periodic-test").holder == "a"

        a.alive = False  # node a dies: it stops renewing and never releases
        a.join(10)
        expires = ClusterLease.objects.get(name="periodic-test").expires
        wait_until(lambda: b.worked > 0, "node b to take over after a's lease ran out", timeout=20)
        row = ClusterLease.objects.get(name="periodic-test")
        assert row.holder == "b" and row.acquired >= expires, "b took the lease before a's expired"
        assert board.overlaps == []
    finally:
        a.alive = b.alive = False
        a.join(10)
        b.join(10)


def test_a_clean_stop_hands_the_lease_over_without_waiting(transactional_db):
    first = LeaseHolder("periodic-test", "a", 60.0)
    second = LeaseHolder("periodic-test", "b", 60.0)
    assert first.acquire() and first.held()
    assert not second.acquire(), "b took a lease a holds for another minute"
    first.release()
    assert not first.held()
    assert second.acquire() and ClusterLease.objects.get(name="periodic-test").holder == "b"
    assert not first.acquire()
