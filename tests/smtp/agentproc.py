"""The smtp agent as a real child process (``manage.py smtpd``), for crash and signal tests."""

from __future__ import annotations

import socket
import subprocess
import time

from tests.conftest import MANAGE, PYTHON, agent_env, free_port


class AgentProcess:
    def __init__(self, **env: str) -> None:
        self.mx, self.submission, self.smtps = free_port(), free_port(), free_port()
        self.env = agent_env(
            MAILAPP_SMTP_PORT=str(self.mx),
            MAILAPP_SUBMISSION_PORT=str(self.submission),
            MAILAPP_SMTPS_PORT=str(self.smtps),
            MAILAPP_BIND="127.0.0.1",
            MAILAPP_LOG_LEVEL="WARNING",
            **env,
        )
        self.proc = subprocess.Popen(
            [PYTHON, MANAGE, "smtpd"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.wait_listening()

    def wait_listening(self, timeout: float = 20) -> None:
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

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
