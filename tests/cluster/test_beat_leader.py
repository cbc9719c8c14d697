"""Celery beat on two nodes: only the lease holder sends periodic work; the other takes over
when the holder is killed (kill -9, no clean release), within one lease.

Each beat is a real ``celery beat`` process with its own ``MAILAPP_NODE`` and ``MAILAPP_HOME``
(its own file-system broker, so the tasks each one sent can be counted apart), sharing this
test's database as hosts share PostgreSQL. A node that takes the lease sends the queue sweep
at once; the schedule's own entries are not due within the test.
"""

import os
import signal
import subprocess
from pathlib import Path

from agents.models import ClusterLease
from tests.conftest import PYTHON, REPO, agent_env, wait_until

LEASE = "5"  # seconds: a takeover within the test, and beyond a busy machine's stalls


def start_beat(node: str, home: Path) -> subprocess.Popen:
    env = agent_env(MAILAPP_NODE=node, MAILAPP_HOME=str(home), MAILAPP_NODE_LEASE=LEASE, MAILAPP_LOG_LEVEL="INFO")
    env.pop("CELERY_BROKER_URL", None)  # each node's own file-system broker
    env.pop("MAILAPP_CELERY_EAGER", None)
    log = open(home / "beat.log", "wb")
    try:
        return subprocess.Popen([PYTHON, "-m", "mailappliance.celerycli", "beat", "--loglevel", "INFO"],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


def sweeps_sent(home: Path) -> int:
    broker = home / "run" / "broker"
    return sum(b"agents.tasks.sweep_queue" in f.read_bytes() for f in broker.glob("*")) if broker.is_dir() else 0


def holder() -> tuple[str, object]:
    row = ClusterLease.objects.filter(name="periodic").first()
    return (row.holder, row.expires) if row else ("", None)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_only_the_lease_holders_beat_sends_and_a_follower_takes_over_after_kill_9(transactional_db, tmp_path):
    homes = {n: tmp_path / n for n in ("a", "b")}
    for home in homes.values():
        home.mkdir()
    a = start_beat("a", homes["a"])
    b = None
    try:
        wait_until(lambda: holder()[0] == "a" and sweeps_sent(homes["a"]) == 1,
                   "node a's beat to take the lease and sweep", timeout=60)
        b = start_beat("b", homes["b"])
        wait_until(lambda: (homes["b"] / "run" / "beat.ready").exists(), "node b's beat to start", timeout=60)
        renewals, last = 0, holder()[1]
        while renewals < 3:  # a renews three times (every third of the lease) while b asks all along
            wait_until(lambda seen=last: holder()[1] != seen, "node a to renew the lease", timeout=20)
            last = holder()[1]
            renewals += 1
        assert holder()[0] == "a"
        assert sweeps_sent(homes["b"]) == 0, "node b's beat sent periodic work while a held the lease"

        os.kill(a.pid, signal.SIGKILL)
        a.wait(10)
        expired_at = holder()[1]
        wait_until(lambda: holder()[0] == "b" and sweeps_sent(homes["b"]) == 1,
                   "node b to take over after a's lease ran out", timeout=30)
        row = ClusterLease.objects.get(name="periodic")
        assert row.acquired >= expired_at, "b took the lease before a's had expired"
        assert sweeps_sent(homes["a"]) == 1  # a, dead, sent nothing more

        stop(b)  # a clean stop gives the lease back at once
        assert ClusterLease.objects.get(name="periodic").expires <= ClusterLease.objects.get(name="periodic").acquired
    finally:
        stop(a)
        if b is not None:
            stop(b)
