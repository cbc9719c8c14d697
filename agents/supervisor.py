"""The supervisor: starts the appliance's processes, keeps them running, stops them.

Like Postfix's master(8): small cooperating processes with one job each. Every
child is a separate OS process; a child that dies is restarted with exponential
backoff; each child's state and heartbeat is written to ``AgentProcess`` for the
dashboard, which can also ask for a restart. SIGTERM or SIGINT drains: children
get SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from agents.models import AgentProcess

log = logging.getLogger("agents.supervisor")

REPO = Path(__file__).resolve().parent.parent
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # a child that ran this long starts its next backoff from scratch
HEARTBEAT_EVERY = 2.0
STOP_GRACE = 10.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Children get SIGTERM if the supervisor dies, even by ``kill -9``."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setpgrp()  # Ctrl-C reaches the supervisor only; it stops the children in order


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = BACKOFF_START
    restart_at: float = 0.0
    restarts: int = 0
    stopping: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def manage(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "manage.py"), *args]


def default_children(only: list[str] | None = None) -> list[Child]:
    """The appliance's processes. Protocol agents join when their command exists."""
    commands = REPO / "agents" / "management" / "commands"
    bind = settings.MAILAPP_BIND
    host = f"[{bind}]" if ":" in bind else bind
    children = [
        Child(
            "web",
            [
                sys.executable, "-m", "gunicorn", "mailappliance.wsgi:application",
                "--bind", f"{host}:{settings.MAILAPP_HTTP_PORT}",
                "--workers", "2", "--threads", "4", "--timeout", "60", "--graceful-timeout", "5",
                "--no-control-socket",  # gunicorn's default control socket path is shared by every instance
                *(["--access-logfile", "-"] if settings.MAILAPP_WEB_ACCESS_LOG else []),
            ],
        ),
    ]
    for name, command in (("smtp", "smtpd"), ("imap", "imapd"), ("pop3", "pop3d")):
        if (commands / f"{command}.py").exists():
            children.append(Child(name, manage(command)))
    children += [
        Child(
            "worker",
            [sys.executable, "-m", "celery", "-A", "mailappliance", "--quiet", "worker", "--loglevel", "INFO",
             "--concurrency", "2", "--hostname", f"worker@{socket.gethostname()}", "--without-mingle",
             "--without-gossip"],
        ),
        Child(
            "beat",
            [sys.executable, "-m", "celery", "-A", "mailappliance", "--quiet", "beat", "--loglevel", "INFO",
             "--schedule", str(Path(settings.MAILAPP_RUN_DIR) / "celerybeat-schedule")],
        ),
    ]
    if only:
        children = [c for c in children if c.name in only]
    return children


class Supervisor:
    """Runs children until asked to stop. ``run()`` blocks; ``stop()`` may be called from a signal."""

    def __init__(self, children: list[Child], on_ready: Callable[[], None] | None = None) -> None:
        self.children = children
        self.on_ready = on_ready
        self.stopping = False
        self.host = socket.gethostname()
        self._last_heartbeat = 0.0

    # --- process control ---------------------------------------------------------------

    def start(self, child: Child) -> None:
        env = dict(os.environ, **child.extra_env)
        env["PYTHONUNBUFFERED"] = "1"
        env["MAILAPP_PROCESS_NAME"] = child.name
        child.process = subprocess.Popen(child.argv, cwd=REPO, env=env, preexec_fn=_die_with_parent)
        child.started_at = time.monotonic()
        child.stopping = False
        log.info("started %s (pid %s)", child.name, child.pid)
        self._record(child, "running", started=True)

    def terminate(self, child: Child, grace: float = STOP_GRACE) -> None:
        if not child.alive():
            return
        assert child.process is not None
        child.stopping = True
        child.process.terminate()
        try:
            child.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs; killing it", child.name, grace)
            child.process.kill()
            child.process.wait()

    def stop(self, *_: object) -> None:
        self.stopping = True

    # --- the loop ----------------------------------------------------------------------

    def run(self) -> int:
        for child in self.children:
            self.start(child)
        if self.on_ready:
            self.on_ready()
        try:
            while not self.stopping:
                self.tick()
                time.sleep(0.2)
        finally:
            self.shutdown()
        return 0

    def tick(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.process is None:
                if now >= child.restart_at:
                    self.start(child)
                continue
            code = child.process.poll()
            if code is None:
                continue
            ran = now - child.started_at
            if ran >= STABLE_AFTER:
                child.backoff = BACKOFF_START
            child.restarts += 1
            child.restart_at = now + child.backoff
            log.warning("%s exited with %s after %.1fs; restarting in %.0fs", child.name, code, ran, child.backoff)
            self._record(child, "backoff", last_exit=f"exit {code}" if code >= 0 else f"signal {-code}")
            child.backoff = min(child.backoff * 2, BACKOFF_MAX)
            child.process = None
        if now - self._last_heartbeat >= HEARTBEAT_EVERY:
            self._last_heartbeat = now
            self._heartbeat()

    def _heartbeat(self) -> None:
        close_old_connections()
        try:
            requested = set(
                AgentProcess.objects.filter(restart_requested=True, name__in=[c.name for c in self.children])
                .values_list("name", flat=True)
            )
            for child in self.children:
                if child.name in requested:
                    log.info("restart of %s requested from the dashboard", child.name)
                    AgentProcess.objects.filter(name=child.name).update(restart_requested=False)
                    self.terminate(child)
                    child.restarts += 1
                    child.backoff = BACKOFF_START
                    self.start(child)
            alive = [c.name for c in self.children if c.alive()]
            AgentProcess.objects.filter(name__in=alive).update(heartbeat=timezone.now(), state="running")
        except Exception as exc:  # the database may be busy or briefly away; children keep running
            log.warning("could not record heartbeats: %s", exc)

    def _record(self, child: Child, state: str, started: bool = False, last_exit: str | None = None) -> None:
        close_old_connections()
        values: dict[str, object] = {"state": state, "host": self.host, "pid": child.pid, "restarts": child.restarts}
        if started:
            values["started"] = timezone.now()
            values["heartbeat"] = timezone.now()
        if last_exit is not None:
            values["last_exit"] = last_exit
        try:
            AgentProcess.objects.update_or_create(name=child.name, defaults=values)
        except Exception as exc:
            log.warning("could not record the state of %s: %s", child.name, exc)

    def shutdown(self) -> None:
        log.info("stopping %d processes", len(self.children))
        for child in self.children:
            if child.alive():
                child.stopping = True
                assert child.process is not None
                child.process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            self._record(child, "stopped", last_exit="stopped")
        log.info("all processes stopped")
