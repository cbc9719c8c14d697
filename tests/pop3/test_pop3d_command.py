"""``manage.py pop3d`` starts as the supervisor would run it, serves, and exits 0 on SIGTERM."""

from __future__ import annotations

import poplib
import signal
import subprocess
import time

from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password

from agents.store import default_store
from tests.conftest import MANAGE, PASSWORD, PYTHON, agent_env, free_port
from webadmin.models import Mailbox

from .conftest import client_context


def wait_for_port(port: int, process: subprocess.Popen, deadline: float = 30) -> None:
    """Wait until ``port`` accepts; the agent binds its listeners one after another, so a caller
    that will use several ports waits for each of them."""
    import socket

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert process.poll() is None, process.stderr.read().decode(errors="replace")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"pop3d did not listen on {port}")


def test_pop3d_serves_and_stops_cleanly_on_sigterm(transactional_db, example_com):
    # The child runs with the real password hasher: give alice a hash it knows.
    Mailbox.objects.filter(local_part="alice").update(password=make_password(PASSWORD, hasher=PBKDF2PasswordHasher()))
    default_store().mailbox("alice@example.com").deliver(b"Subject: from pop3d\r\n\r\nhi\r\n")
    port, tls_port = free_port(), free_port()
    env = agent_env(MAILAPP_POP3_PORT=str(port), MAILAPP_POP3S_PORT=str(tls_port), MAILAPP_BIND="127.0.0.1")
    process = subprocess.Popen([PYTHON, MANAGE, "pop3d"], env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        wait_for_port(port, process)
        wait_for_port(tls_port, process)
        client = poplib.POP3_SSL("127.0.0.1", tls_port, timeout=10, context=client_context())
        client.user("alice@example.com")
        client.pass_(PASSWORD)
        assert client.retr(1)[1][-1] == b"hi"
        client.quit()
        upgraded = poplib.POP3("127.0.0.1", port, timeout=10)  # STLS on the agent's own loop (uvloop)
        upgraded.stls(context=client_context())
        upgraded.user("alice@example.com")
        upgraded.pass_(PASSWORD)
        assert upgraded.retr(1)[1][-1] == b"hi"
        upgraded.quit()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert b"listening on 127.0.0.1" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
