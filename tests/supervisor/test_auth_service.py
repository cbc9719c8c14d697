"""The large profile's auth service is a supervised child: killed with ``kill -9``, logins fail
temporarily (never succeed) until the supervisor has restarted it, then work again."""

from __future__ import annotations

import imaplib
import os
import poplib
import shutil
import signal
import subprocess
import tempfile

from agents.models import AgentProcess
from tests.conftest import MANAGE, PASSWORD, PYTHON, agent_env, free_port

from .test_supervisor import alive, running, wait_for

ALICE = "alice@example.com"


def imap_login(port: int, password: str = PASSWORD) -> str:
    try:
        client = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    except OSError as exc:  # not listening yet
        return str(exc)
    try:
        client.login(ALICE, password)
        return "OK"
    except imaplib.IMAP4.error as exc:
        return str(exc)
    finally:
        client.shutdown()


def pop3_login(port: int) -> str:
    try:
        client = poplib.POP3("127.0.0.1", port, timeout=60)
    except OSError as exc:  # not listening yet
        return str(exc)
    try:
        client.user(ALICE)
        return client.pass_(PASSWORD).decode()[:3]
    except poplib.error_proto as exc:
        return str(exc)
    finally:
        client.close()


def test_a_killed_auth_service_is_restarted_and_logins_meanwhile_fail_temporarily(transactional_db, example_com,
                                                                                  tmp_path):
    imap, pop3 = free_port(), free_port()
    run = tempfile.mkdtemp(prefix="authd-")  # a short socket path
    env = agent_env(MAILAPP_PROFILE="large", MAILAPP_COMBINED_AGENTS="0", MAILAPP_BIND="127.0.0.1",
                    MAILAPP_DEV_MODE="1", MAILAPP_IMAP_PROCESSES="2", MAILAPP_POP3_PROCESSES="1",
                    MAILAPP_IMAP_PORT=str(imap), MAILAPP_IMAPS_PORT=str(free_port()),
                    MAILAPP_POP3_PORT=str(pop3), MAILAPP_POP3S_PORT=str(free_port()),
                    MAILAPP_AUTH_SOCKET=os.path.join(run, "auth", "socket"), MAILAPP_AUTH_MAX_FAILURES="0")
    with open(tmp_path / "appliance.log", "wb") as log:
        supervisor = subprocess.Popen([PYTHON, MANAGE, "appliance", "--no-prepare", "--only", "imap", "pop3"],
                                      env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for name in ("imap", "imap-2", "pop3"):
            wait_for(lambda name=name: running(name), 60, name)
        auth = wait_for(lambda: running("auth"), 60, "auth")
        wait_for(lambda: imap_login(imap) == "OK", 60, "a first IMAP login")
        wait_for(lambda: pop3_login(pop3) == "+OK", 60, "a first POP3 login")

        os.kill(auth.pid, signal.SIGKILL)
        wait_for(lambda: not alive(auth.pid), 30, "the killed auth service to be gone")
        assert "UNAVAILABLE" in imap_login(imap)  # before the restart (its backoff is a second at least)
        assert "[SYS/TEMP]" in pop3_login(pop3)
        assert imap_login(imap, "wrong password") != "OK"

        restarted = wait_for(lambda: (r := running("auth")) and r.pid != auth.pid and r, 60, "auth back")
        assert restarted.restarts == 1 and AgentProcess.objects.get(name="auth").last_exit == "signal 9"
        wait_for(lambda: imap_login(imap) == "OK", 30, "IMAP logins to work again")
        assert pop3_login(pop3) == "+OK"

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0
        assert not alive(restarted.pid)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
        shutil.rmtree(run, ignore_errors=True)
