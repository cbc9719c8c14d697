"""One count for every door: guesses over IMAP, POP3 and SMTP add up, and another process sees the lock.

Real listeners on loopback, the database guard the agents use, and a real
``manage.py pop3d`` child as the second agent process.
"""

from __future__ import annotations

import imaplib
import poplib
import signal
import subprocess
from collections.abc import Iterator

import pytest

from agents.imap.service import authenticate
from agents.loginguard.db import mail_guard
from mailappliance import hashers
from tests.conftest import MANAGE, PASSWORD, PYTHON, agent_env, free_port
from tests.imap.conftest import RunningServer, _run_server, imap_store, tls_files  # noqa: F401
from tests.pop3.conftest import client_context, pop3  # noqa: F401
from tests.pop3.test_pop3d_command import wait_for_port
from tests.smtp.conftest import smtp_agent  # noqa: F401
from tests.smtp.test_submission_auth import plain

ALICE = "alice@example.com"


@pytest.fixture
def imap(transactional_db, example_com, imap_store, tls_files) -> Iterator[RunningServer]:  # noqa: F811
    yield from _run_server(imap_store, tls_files, auth=authenticate, throttle=mail_guard())


@pytest.fixture
def second_pop3d(transactional_db) -> Iterator[int]:
    """``manage.py pop3d`` in a process of its own, on the test database; yields its TLS port."""
    port, tls_port = free_port(), free_port()
    env = agent_env(MAILAPP_POP3_PORT=str(port), MAILAPP_POP3S_PORT=str(tls_port), MAILAPP_BIND="127.0.0.1")
    process = subprocess.Popen([PYTHON, MANAGE, "pop3d"], env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        wait_for_port(port, process)
        wait_for_port(tls_port, process)
        yield tls_port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def imap_login(imap: RunningServer, password: str) -> str:
    try:
        imap.client().login(ALICE, password)
    except imaplib.IMAP4.error as exc:
        return str(exc)
    return "OK"


def pop3_login(client: poplib.POP3, password: str) -> str:
    client.user(ALICE)
    try:
        return client.pass_(password).decode()
    except poplib.error_proto as exc:
        return str(exc)
    finally:
        client.close()


def smtp_auth(agent, password: str) -> int:
    with agent.smtps() as client:
        client.ehlo("client.test")
        return client.docmd("AUTH PLAIN", plain(ALICE, password))[0]


def test_guesses_over_imap_pop3_and_smtp_add_up_and_every_process_refuses(
    imap, pop3, smtp_agent, second_pop3d  # noqa: F811
):
    smtp = smtp_agent()
    start = hashers.computed
    # Five guesses from one address (MAILAPP_AUTH_MAX_FAILURES), spread over three protocols.
    assert "AUTHENTICATIONFAILED" in imap_login(imap, "wrong1")
    assert "AUTHENTICATIONFAILED" in imap_login(imap, "wrong2")
    assert "authentication failed" in pop3_login(pop3.connect(), "wrong3")
    assert "authentication failed" in pop3_login(pop3.connect(), "wrong4")
    assert smtp_auth(smtp, "wrong5") == 535

    # Now the right password is refused at every door, before any hash is computed.
    computed = hashers.computed
    assert computed >= start + 5  # each guess cost a hash (the counter sees them)
    assert "UNAVAILABLE" in imap_login(imap, PASSWORD)
    assert "too many failed logins" in pop3_login(pop3.connect(), PASSWORD)
    assert smtp_auth(smtp, PASSWORD) == 454
    assert hashers.computed == computed

    # A second agent process, which saw none of it, refuses too: the count is in the database.
    other = poplib.POP3_SSL("127.0.0.1", second_pop3d, timeout=10, context=client_context())
    assert "too many failed logins" in pop3_login(other, PASSWORD)


def test_before_the_limit_the_right_password_still_logs_in_everywhere(imap, pop3, smtp_agent):  # noqa: F811
    smtp = smtp_agent()
    assert "AUTHENTICATIONFAILED" in imap_login(imap, "wrong")
    assert "authentication failed" in pop3_login(pop3.connect(), "wrong")
    assert imap_login(imap, PASSWORD) == "OK"
    assert pop3_login(pop3.connect(), PASSWORD).startswith("+OK")
    assert smtp_auth(smtp, PASSWORD) == 235
