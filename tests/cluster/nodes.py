"""Nodes of a cluster on one machine, for the cluster stories: real processes, each with its own
``MAILAPP_NODE``, ``MAILAPP_HOME`` and loopback address (127.0.0.2, .3, .4 bind without set-up),
sharing this test's PostgreSQL database and a Redis database of their own."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import MANAGE, PYTHON, REPO, agent_env, free_port
from tests.redisdb import private_broker

POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
# Cluster mode needs PostgreSQL (the spool lives there) and a shared broker: the PostgreSQL pass of
# scripts/test.sh has both. The SQLite pass has neither server, so these stories run there only.
# CI guard: the SQLite pass may leave these stories to the PostgreSQL pass only when that pass can run
# them. Under CI, a machine without PostgreSQL's server fails here instead of skipping them unseen.
if os.environ.get("CI") == "true" and not POSTGRES and not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
    raise RuntimeError("CI: PostgreSQL's server is not installed (scripts/setup.sh test installs it), "
                       "so the cluster stories would run in no pass")
needs_postgres = pytest.mark.skipif(
    not POSTGRES, reason="cluster mode needs PostgreSQL and Redis: runs in the PostgreSQL pass (scripts/test.sh)"
)


def cluster_broker(home: Path) -> str:
    """A Redis database apart from db 0 (where every other test's submissions send their tasks) and from
    every other test running at once (tests/redisdb.py)."""
    return private_broker(os.environ["CELERY_BROKER_URL"], str(home))


class Node:
    """One node's processes (added with :meth:`smtpd`, :meth:`worker`, :meth:`beat`)."""

    def __init__(self, name: str, address: str, root: Path, broker: str, **env: str) -> None:
        self.name, self.address = name, address
        self.home = root / name
        (self.home / "run").mkdir(parents=True, exist_ok=True)  # the supervisor makes it on a real node
        self.env = agent_env(MAILAPP_NODE=name, MAILAPP_HOME=str(self.home), MAILAPP_BIND=address,
                             MAILAPP_NODE_ADDRESS=address, MAILAPP_CLUSTER="1", CELERY_BROKER_URL=broker,
                             MAILAPP_NODE_LEASE="3", MAILAPP_LOG_LEVEL="INFO",
                             MAILAPP_SECRET_KEY="one secret for every node of the test cluster", **env)
        self.env.pop("MAILAPP_CELERY_EAGER", None)
        self.processes: dict[str, subprocess.Popen] = {}
        self.smtp_port = 0
        self.imap_port = 0

    def _start(self, role: str, argv: list[str], **env: str) -> subprocess.Popen:
        with open(self.home / f"{role}.log", "wb") as log:
            process = subprocess.Popen(argv, cwd=REPO, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # kill9() takes the process group
        self.processes[role] = process
        return process

    def smtpd(self) -> None:
        self.smtp_port = int(self.env.get("MAILAPP_SMTP_PORT") or free_port())
        # A submission port given to every node (a proxy names only the host) is kept.
        ports = {"MAILAPP_SMTP_PORT": str(self.smtp_port),
                 "MAILAPP_SUBMISSION_PORT": self.env.get("MAILAPP_SUBMISSION_PORT") or str(free_port()),
                 "MAILAPP_SMTPS_PORT": str(free_port())}
        process = self._start("smtpd", [PYTHON, MANAGE, "smtpd", "--workers", "2"], **ports)
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"smtpd of node {self.name} exited:\n{self.log('smtpd')}"
            assert time.monotonic() < deadline, f"smtpd of node {self.name} never listened:\n{self.log('smtpd')}"
            try:
                with socket.create_connection((self.address, self.smtp_port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)

    def _listening(self, role: str, process: subprocess.Popen, port: int) -> None:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"{role} of node {self.name} exited:\n{self.log(role)}"
            assert time.monotonic() < deadline, f"{role} of node {self.name} never listened:\n{self.log(role)}"
            try:
                with socket.create_connection((self.address, port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)

    def imapd(self, port: int) -> None:
        """The node's IMAP agent on its address (plain port ``port``; the TLS port from the free range)."""
        self.imap_port = port
        process = self._start("imapd", [PYTHON, MANAGE, "imapd", "--port", str(port), "--tls-port", str(free_port())])
        self._listening("imapd", process, port)

    def web(self) -> None:
        """The node's web server (gunicorn, as the supervisor starts it) on its address and
        ``MAILAPP_HTTP_PORT``, which every node of a cluster shares: a mailbox move pulls from it."""
        port = int(self.env["MAILAPP_HTTP_PORT"])
        process = self._start("web", [PYTHON, "-m", "gunicorn", "mailappliance.wsgi:application", "--bind",
                                      f"{self.address}:{port}", "--workers", "1", "--threads", "4",
                                      "--timeout", "120", "--no-control-socket"])
        self._listening("web", process, port)

    def pop3d(self, port: int) -> None:
        """The node's POP3 agent on its address (plain port ``port``; the TLS port from the free range)."""
        process = self._start("pop3d", [PYTHON, MANAGE, "pop3d"], MAILAPP_POP3_PORT=str(port),
                              MAILAPP_POP3S_PORT=str(free_port()))
        self._listening("pop3d", process, port)

    def worker(self, beat: bool = True) -> None:
        """The node's Celery worker as the supervisor starts it: named after the node, consuming the
        shared queue and ``deliver.<node>``, with beat on a thread (periodic work if it holds the lease)."""
        self._start("worker", [PYTHON, "-m", "mailappliance.celerycli", "worker", "--loglevel", "INFO",
                               "--pool", "threads", "--concurrency", "2", "--hostname", f"worker@{self.name}",
                               "--queues", f"celery,deliver.{self.name}", "--without-mingle", "--without-gossip",
                               *(["--beat-thread"] if beat else [])])

    def beat(self) -> None:
        self._start("beat", [PYTHON, "-m", "mailappliance.celerycli", "beat", "--loglevel", "INFO"])

    def log(self, role: str) -> str:
        path = self.home / f"{role}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill9(self) -> None:
        """The node dies: every process at once, no cleanup."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        for process in self.processes.values():
            process.wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def maildir_files(self, address: str) -> list[Path]:
        local, _, domain = address.partition("@")
        box = self.home / "mail" / domain / local
        return [f for sub in ("new", "cur") for f in (box / sub).glob("*") if f.is_file()]


@contextlib.contextmanager
def published() -> Iterator[list[tuple[str, list, str]]]:
    """Every task this test process publishes meanwhile, as (task name, args, queue it is routed to),
    seen at Celery's ``before_task_publish`` signal: which queue a node's worker then consumes is
    the cluster stories' part. (Reading the message back from the test process's shared broker lost
    one now and then, on the file system and on Redis alike; the cause is not found.)"""
    from celery import signals

    seen: list[tuple[str, list, str]] = []

    def record(sender: str = "", body: object = None, routing_key: str = "", **_: object) -> None:
        args = body[0] if isinstance(body, tuple) else body
        seen.append((sender, list(args) if isinstance(args, (list, tuple)) else [args], routing_key))

    signals.before_task_publish.connect(record, weak=False)
    try:
        yield seen
    finally:
        signals.before_task_publish.disconnect(record)
