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
from tests.redisdb import own_broker

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
    env = agent_env(**own_broker(), MAILAPP_PROFILE="large", MAILAPP_COMBINED_AGENTS="0", MAILAPP_BIND="127.0.0.1",
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

        # The logins must be answered while the service is down: between the kill and the restart there
        # is only the supervisor's backoff (1 s, then 2, 4, 8), which a loaded machine can outlast. The row
        # says "running" from the moment a new service is started, so no running row after the logins
        # means both were answered with no service; otherwise the service is killed again (longer backoff).
        victim, kills = auth, 0
        while True:
            os.kill(victim.pid, signal.SIGKILL)
            kills += 1
            wait_for(lambda victim=victim: not alive(victim.pid), 30, "the killed auth service to be gone")
            down = imap_login(imap), pop3_login(pop3), imap_login(imap, "wrong password")
            if running("auth") is None:
                break
            assert kills < 4, f"the auth service was back before two logins were answered, {kills} times"
            victim = wait_for(lambda victim=victim: (r := running("auth")) and r.pid != victim.pid and r, 60,
                              "auth back before it is killed again")
        assert "UNAVAILABLE" in down[0], down
        assert "[SYS/TEMP]" in down[1], down
        assert down[2] != "OK", down

        restarted = wait_for(lambda: (r := running("auth")) and r.pid != victim.pid and r, 60, "auth back")
        assert restarted.restarts == kills and AgentProcess.objects.get(name="auth").last_exit == "signal 9"
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
