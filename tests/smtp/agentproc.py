"""The smtp agent as a real child process (``manage.py smtpd``), for crash and signal tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

from tests.conftest import MANAGE, PYTHON, agent_env, free_port


class AgentProcess:
    """``manage.py smtpd --workers N`` (forked workers sharing the sockets), or with ``processes``
    that many ``smtpd`` processes sharing the ports by SO_REUSEPORT, as the supervisor runs them
    (``MAILAPP_SMTP_PROCESSES``); each in a process group of its own, which kill9() kills."""

    def __init__(self, workers: int = 2, processes: int = 1, **env: str) -> None:
        self.mx, self.submission, self.smtps = free_port(), free_port(), free_port()
        self.env = agent_env(
            MAILAPP_SMTP_PORT=str(self.mx),
            MAILAPP_SUBMISSION_PORT=str(self.submission),
            MAILAPP_SMTPS_PORT=str(self.smtps),
            MAILAPP_BIND="127.0.0.1",
            MAILAPP_LOG_LEVEL="WARNING",
            **env,
        )
        if processes > 1:
            self.env["MAILAPP_SMTP_PROCESSES"] = str(processes)
            workers = 1
        self.proc = subprocess.Popen(
            [PYTHON, MANAGE, "smtpd", "--workers", str(workers)], env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,  # its own process group: kill9() takes every worker
        )
        self.others = [
            subprocess.Popen([PYTHON, MANAGE, "smtpd", "--workers", "1"], env=self.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
            for _ in range(processes - 1)
        ]
        try:
            self.wait_listening()
        except BaseException:
            self.stop()
            raise

    def wait_listening(self, timeout: float = 60) -> None:  # a Django process starting on a loaded CI machine
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"smtpd exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.smtps), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("smtpd did not start listening")

    def kill9(self) -> None:
        """SIGKILL to the agent and all its workers at once: a crash, no cleanup."""
        for proc in (self.proc, *self.others):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in (self.proc, *self.others):
            proc.wait(10)

    def stop(self) -> None:
        if any(proc.poll() is None for proc in (self.proc, *self.others)):
            self.kill9()
        self.proc.wait(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
