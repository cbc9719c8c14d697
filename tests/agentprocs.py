"""Protocol agents run for real as several processes sharing their ports (SO_REUSEPORT).

``Agents("imapd", 2)`` starts two ``manage.py imapd`` processes as the large profile's
supervisor does (``MAILAPP_IMAP_PROCESSES=2``): the kernel spreads connections over them.
``connect_to(pid)`` opens connections until one is served by that process (found in
``/proc``), so a test can put two sessions of one mailbox in two different processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from tests.conftest import MANAGE, PYTHON, agent_env, free_port

T = TypeVar("T")

SETTINGS = {"imapd": ("MAILAPP_IMAP_PORT", "MAILAPP_IMAPS_PORT", "MAILAPP_IMAP_PROCESSES"),
            "pop3d": ("MAILAPP_POP3_PORT", "MAILAPP_POP3S_PORT", "MAILAPP_POP3_PROCESSES")}


class Agents:
    """``count`` processes of one agent on one pair of ports; :meth:`stop` ends them all (SIGTERM, then SIGKILL)."""

    def __init__(self, command: str, count: int = 2, **env: str) -> None:
        port_name, tls_name, count_name = SETTINGS[command]
        self.host, self.port, self.tls_port = "127.0.0.1", free_port(), free_port()
        self.env = agent_env(**{port_name: str(self.port), tls_name: str(self.tls_port), count_name: str(count)},
                             MAILAPP_PROFILE="large", MAILAPP_COMBINED_AGENTS="0", MAILAPP_BIND=self.host,
                             MAILAPP_DEV_MODE="1", MAILAPP_LOG_LEVEL="WARNING", **env)
        self.log = tempfile.TemporaryFile()  # not a pipe: nobody reads it while they run, and a full pipe blocks
        self.procs = [subprocess.Popen([PYTHON, MANAGE, command], env=self.env, stdout=subprocess.DEVNULL,
                                       stderr=self.log, start_new_session=True) for _ in range(count)]
        try:
            self.wait_serving()
        except BaseException:
            self.stop()
            raise

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    def wait_serving(self, timeout: float = 60) -> None:
        """Until every process serves a connection of its own (each has bound the port)."""
        deadline = time.monotonic() + timeout
        waiting = set(self.pids)
        while waiting:
            for proc in self.procs:
                assert proc.poll() is None, f"{proc.args} exited: {self.logged()[-2000:]}"
            assert time.monotonic() < deadline, f"processes {waiting} never took a connection"
            try:
                with socket.create_connection((self.host, self.port), timeout=5) as sock:
                    sock.recv(100)  # the greeting: the connection was accepted
                    pid = serving_pid(self.port, sock.getsockname()[1], self.pids)
            except OSError:
                time.sleep(0.2)
                continue
            waiting.discard(pid)  # type: ignore[arg-type]

    def connect_to(self, pid: int, connect: Callable[[], T], local_port: Callable[[T], int],
                   close: Callable[[T], object], tries: int = 200) -> T:
        """A connection made by ``connect`` that process ``pid`` serves (others are closed; bounded tries)."""
        for _ in range(tries):
            conn = connect()
            if serving_pid(self.port, local_port(conn), [pid]) == pid:
                return conn
            close(conn)
        raise AssertionError(f"no connection reached process {pid} in {tries} tries")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.log.close()

    def logged(self) -> str:
        """What the processes wrote to stderr so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


def serving_pid(port: int, peer_port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` owns the server side of the connection from local ``peer_port`` to ``port``."""
    inode = None
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == peer_port:
                inode = fields[9]
    if inode is None or inode == "0":  # not accepted yet: still in the listen queue
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


class AuthService:
    """``manage.py authd`` on a socket of its own (what the large profile's supervisor runs); :attr:`env`
    is what a protocol process needs to ask it. :meth:`kill` is ``kill -9``, :meth:`start` starts it again."""

    def __init__(self, **env: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="authd-")  # short: a Unix socket path has 108 bytes
        self.path = os.path.join(self.dir, "auth", "socket")
        self.env = {"MAILAPP_AUTH_SERVICE": "1", "MAILAPP_AUTH_SOCKET": self.path}
        self._child_env = agent_env(MAILAPP_LOG_LEVEL="WARNING", **self.env, **env)
        self.log = tempfile.TemporaryFile()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self, timeout: float = 60) -> None:
        self.proc = subprocess.Popen([PYTHON, MANAGE, "authd"], env=self._child_env, stdout=subprocess.DEVNULL,
                                     stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"authd exited: {self.logged()[-2000:]}"
            try:
                self.stats()
                return
            except OSError:
                assert time.monotonic() < deadline, "authd never answered"
                time.sleep(0.1)

    def stats(self) -> dict:
        """The service's counters (``hashes`` computed, entries ``cached``, its ``pid``), asked on its socket."""
        from agents.authsvc import wire
        from agents.authsvc.client import connect_unix

        with connect_unix(Path(self.path), 10) as sock:
            sock.sendall(wire.encode({"op": "stats"}))
            answer = wire.read(sock)
        assert answer is not None
        return answer

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def logged(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


NO_LOCKOUT = {"MAILAPP_AUTH_MAX_FAILURES": "0", "MAILAPP_AUTH_ACCOUNT_MAX_FAILURES": "0", "MAILAPP_AUTH_DELAY": "0"}


@contextlib.contextmanager
def auth_layout() -> Iterator[tuple[AuthService, Agents, Agents]]:
    """An auth service with a hash cap of 1, two imapd processes and a pop3d asking it; no lockout,
    so a test's many logins are never throttled. Everything is stopped at the end."""
    auth = AuthService(MAILAPP_AUTH_HASH_CONCURRENCY="1", **NO_LOCKOUT)
    started: list[Agents] = []
    try:
        started.append(Agents("imapd", 2, **auth.env, **NO_LOCKOUT))
        started.append(Agents("pop3d", 1, **auth.env, **NO_LOCKOUT))
        yield auth, started[0], started[1]
    finally:
        for running in started:
            running.stop()
        auth.stop()
