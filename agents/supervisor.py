"""The supervisor: starts the appliance's processes, keeps them running, stops them.

Like Postfix's master(8): small cooperating processes with one job each. Every
child is a separate OS process; a child that dies is restarted with exponential
backoff; each child's state and heartbeat is written to ``AgentProcess`` for the
dashboard, which can also ask for a restart. SIGTERM or SIGINT drains: children
get SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from agents.cluster import delivery_queue, nodes
from agents.models import AgentProcess

log = logging.getLogger("agents.supervisor")

REPO = Path(__file__).resolve().parent.parent
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # a child that ran this long starts its next backoff from scratch
HEARTBEAT_EVERY = 2.0
STOP_GRACE = 10.0
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15


def _die_with_parent() -> None:
    """Children get SIGTERM if the supervisor dies, even by ``kill -9``."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setpgrp()  # Ctrl-C reaches the supervisor only; it stops the children in order


ROLES = ("web", "smtp", "imap", "pop3", "managesieve", "worker", "beat")


def _name_process(name: str) -> None:
    """Name a forked child in ``ps`` and ``/proc/PID/comm`` (``mailapp:web``, at most 15 bytes):
    without exec it would keep the supervisor's name."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_NAME, f"mailapp:{name}".encode()[:15])
    except OSError:
        pass


M_ARENA_MAX = -8


def _few_malloc_arenas() -> None:
    """At most two glibc malloc arenas: the children's many threads (session executor, Celery's
    pool, gunicorn's) otherwise get an arena each, every one holding freed memory of its own.
    The threads mostly wait on I/O and the GIL, so they hardly contend for the lock."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass


@dataclass
class Child:
    """One process of the appliance. ``roles`` are the names it is recorded (and restarted)
    under in ``AgentProcess``: one process may stand for several, e.g. the small profile's
    mail agents for smtp, imap and pop3, so the dashboard and the API see the same rows on
    either profile."""

    name: str
    argv: list[str]
    roles: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | Forked | None = None
    started_at: float = 0.0
    backoff: float = BACKOFF_START
    restart_at: float = 0.0
    restarts: int = 0
    stopping: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    group: str = ""  # a restart asked for under this name restarts every child of the group

    def __post_init__(self) -> None:
        self.roles = self.roles or (self.name,)
        self.group = self.group or self.name

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def manage(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "manage.py"), *args]


def replicas(name: str, argv: list[str], count: int) -> list[Child]:
    """``count`` processes of one agent sharing its ports (``agents.listeners``): ``name``,
    ``name-2``, … Each is a child of its own, recorded, restarted (with its own backoff) and
    killed alone; a restart asked for ``name`` restarts them all."""
    return [Child(name if n == 1 else f"{name}-{n}", argv, group=name) for n in range(1, max(1, count) + 1)]


def default_children(only: list[str] | None = None) -> list[Child]:
    """The appliance's processes for the roles in ``only`` (default: all of ``ROLES``), laid
    out by the profile's settings (``MAILAPP_PROFILE`` and the counts; docs/scaling.md)."""
    wanted = [role for role in ROLES if not only or role in only]
    bind = settings.MAILAPP_BIND
    host = f"[{bind}]" if ":" in bind else bind
    children = []
    if "web" in wanted:
        children.append(Child("web", [
            sys.executable, "-m", "gunicorn", "mailappliance.wsgi:application",
            "--bind", f"{host}:{settings.MAILAPP_HTTP_PORT}",
            "--workers", str(settings.MAILAPP_WEB_WORKERS), "--threads", str(settings.MAILAPP_WEB_THREADS),
            "--timeout", "60", "--graceful-timeout", "5",
            "--no-control-socket",  # gunicorn's default control socket path is shared by every instance
            *(["--access-logfile", "-"] if settings.MAILAPP_WEB_ACCESS_LOG else []),
        ]))  # fmt: skip
    protocols = [role for role in ("smtp", "imap", "pop3", "managesieve") if role in wanted]
    if settings.MAILAPP_COMBINED_AGENTS and protocols:
        children.append(Child("agents", manage("mailagents", *protocols), roles=tuple(protocols)))
    elif protocols:
        # One auth service for every protocol process (agents.authsvc): one credential cache, one hash cap.
        # Started first; a login that comes before it is up (or while it restarts) is a temporary failure.
        children.append(Child("auth", manage("authd")))
        commands = {"smtp": "smtpd", "imap": "imapd", "pop3": "pop3d", "managesieve": "managesieved"}
        processes = {"smtp": settings.MAILAPP_SMTP_PROCESSES, "imap": settings.MAILAPP_IMAP_PROCESSES,
                     "pop3": settings.MAILAPP_POP3_PROCESSES}
        for name in protocols:
            for child in replicas(name, manage(commands[name]), processes.get(name, 1)):
                child.extra_env["MAILAPP_AUTH_SERVICE"] = "1"
                children.append(child)
    beat_thread = settings.MAILAPP_EMBEDDED_BEAT and "worker" in wanted and "beat" in wanted
    if "worker" in wanted:
        children.append(Child(
            "worker",
            [sys.executable, "-m", "mailappliance.celerycli", "worker", "--loglevel", "INFO",  # celery … worker
             "--pool", settings.MAILAPP_CELERY_POOL, "--concurrency", str(settings.MAILAPP_CELERY_CONCURRENCY),
             # Named after the node (two nodes on one machine must not collide). In cluster mode it also
             # consumes the node's own queue (local delivery to the mailboxes homed here); on one machine
             # nothing is sent there, and the file-system broker would poll its folder once more per queue.
             "--hostname", f"worker@{settings.MAILAPP_NODE}",
             *(["--queues", f"celery,{delivery_queue(settings.MAILAPP_NODE)}"] if settings.MAILAPP_CLUSTER else []),
             "--without-mingle", "--without-gossip",
             *(["--beat-thread"] if beat_thread else [])],
            roles=("worker", "beat") if beat_thread else ("worker",),
            # Preloading, the supervisor ran Django's system checks before forking (appliance.py).
            extra_env={"CELERY_SKIP_CHECKS": "1"} if settings.MAILAPP_PRELOAD else {},
        ))  # fmt: skip
    if "beat" in wanted and not beat_thread:
        children.append(Child(
            "beat",
            [sys.executable, "-m", "mailappliance.celerycli", "beat", "--loglevel", "INFO",  # celery … beat
             "--schedule", str(Path(settings.MAILAPP_RUN_DIR) / "celerybeat-schedule")],
        ))  # fmt: skip
    return children


class Forked:
    """A child forked from the supervisor without exec, running ``argv`` in the forked
    interpreter (``python -m module …`` or ``python script …``), with the ``subprocess.Popen``
    methods the supervisor uses.

    The small profile's way to share memory: the supervisor imports the children's code once
    (Django, the models, the libraries; see :meth:`Supervisor.preload`) and every child
    starts from those pages copy-on-write instead of loading its own copy. A child is still
    its own process: a crash, ``kill -9`` or a restart touches no other.
    """

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.args = argv
        self.returncode: int | None = None
        connections.close_all()  # no database connection may be shared across fork
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - runs in the child, which never returns
            os._exit(_run_forked(argv, env))

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 0
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(0.05)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _run_forked(argv: list[str], env: dict[str, str]) -> int:  # pragma: no cover - runs in the child
    """What ``exec(argv)`` would run, in this (forked) interpreter; the exit code."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _die_with_parent()
        _name_process(env.get("MAILAPP_PROCESS_NAME", "child"))
        _few_malloc_arenas()
        os.environ.clear()
        os.environ.update(env)
        if env.get("MAILAPP_AUTH_SERVICE") == "1":  # settings were read at the supervisor's import, not this child's
            settings.MAILAPP_AUTH_SERVICE = True
        os.chdir(REPO)
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # as PYTHONUNBUFFERED would
        if argv[1] == "-m":
            sys.argv = [argv[2], *argv[3:]]
            runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
        else:
            sys.argv = argv[1:]
            runpy.run_path(argv[1], run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except BaseException:
        log.exception("%s failed", " ".join(argv[1:3]))
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
    return code


class Supervisor:
    """Runs children until asked to stop. ``run()`` blocks; ``stop()`` may be called from a signal."""

    def __init__(
        self,
        children: list[Child],
        on_ready: Callable[[], None] | None = None,
        fork: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``fork``: start children as :class:`Forked` copies of this process (after
        :meth:`preload`) instead of new interpreters."""
        self.children = children
        self.on_ready = on_ready
        self.fork = fork
        self.clock = clock  # seconds; tests pass their own to check backoff without waiting
        self.stopping = False
        self.host = socket.gethostname()
        self.node = str(settings.MAILAPP_NODE)
        self._last_heartbeat = 0.0
        self._node_started = False

    # --- process control ---------------------------------------------------------------

    def start(self, child: Child) -> None:
        env = dict(os.environ, **child.extra_env)
        env["PYTHONUNBUFFERED"] = "1"
        env["MAILAPP_PROCESS_NAME"] = child.name
        if self.fork:
            child.process = Forked(child.argv, env)
        else:
            child.process = subprocess.Popen(child.argv, cwd=REPO, env=env, preexec_fn=_die_with_parent)
        child.started_at = self.clock()
        child.stopping = False
        log.info("started %s (pid %s)", child.name if child.roles == (child.name,) else
                 f"{child.name} ({' '.join(child.roles)})", child.pid)  # fmt: skip
        self._record(child, "running", started=True)

    @staticmethod
    def preload(modules: list[str], then: Callable[[], None] | None = None) -> None:
        """Import what the children will import (and run ``then``, which builds more), then
        move every object made so far out of the garbage collector's reach (``gc.freeze``),
        so that collections in the children do not write to, and so unshare, the pages they
        inherited."""
        import importlib

        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError as exc:  # the child that needs it will say so; the others share the rest
                log.warning("could not preload %s: %s", name, exc)
        if then is not None:
            then()
        gc.collect()
        gc.freeze()

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
        self._renew_node()
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
        now = self.clock()
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
            roles = [role for c in self.children for role in c.roles]
            mine = AgentProcess.objects.filter(node=self.node)
            requested = set(mine.filter(restart_requested=True, name__in=roles).values_list("name", flat=True))
            for child in self.children:
                if requested & {*child.roles, child.group}:
                    log.info("restart of %s requested from the dashboard", child.name)
                    mine.filter(name__in=[*child.roles, child.group]).update(restart_requested=False)
                    self.terminate(child)
                    child.restarts += 1
                    child.backoff = BACKOFF_START
                    self.start(child)
            alive = [role for c in self.children if c.alive() for role in c.roles]
            mine.filter(name__in=alive).update(heartbeat=timezone.now(), state="running")
        except Exception as exc:  # the database may be busy or briefly away; children keep running
            log.warning("could not record heartbeats: %s", exc)
        self._renew_node()

    def _renew_node(self) -> None:
        """The node's lease (docs/scaling.md): other nodes and the dashboard see it alive."""
        try:
            nodes.renew(self.node, settings.MAILAPP_NODE_ADDRESS, settings.MAILAPP_NODE_LEASE,
                        starting=not self._node_started)
            self._node_started = True
        except Exception as exc:
            log.warning("could not renew the lease of node %s: %s", self.node, exc)

    def _record(self, child: Child, state: str, started: bool = False, last_exit: str | None = None) -> None:
        close_old_connections()
        values: dict[str, object] = {"state": state, "host": self.host, "pid": child.pid, "restarts": child.restarts}
        if started:
            values["started"] = timezone.now()
            values["heartbeat"] = timezone.now()
        if last_exit is not None:
            values["last_exit"] = last_exit
        try:
            for role in child.roles:
                AgentProcess.objects.update_or_create(node=self.node, name=role, defaults=values)
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
        try:
            nodes.stopped(self.node)
        except Exception as exc:
            log.warning("could not end the lease of node %s: %s", self.node, exc)
        log.info("all processes stopped")
