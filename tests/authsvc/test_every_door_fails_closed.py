"""With the auth service down, SMTP AUTH and ManageSieve answer a temporary failure, never a login.

(IMAP's ``NO [UNAVAILABLE]`` and POP3's ``-ERR [SYS/TEMP]`` are asserted against real agent
processes in ``test_processes.py``.) The servers run in process with ``MAILAPP_AUTH_SERVICE`` on
and nobody on the socket.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents import authsvc, metrics
from agents.loginguard.db import mail_guard
from agents.models import LoginFailure
from tests.conftest import PASSWORD
from tests.managesieve.conftest import sieved  # noqa: F401
from tests.managesieve.test_protocol import Client
from tests.smtp.conftest import agent, smtp_agent  # noqa: F401
from tests.smtp.test_submission_auth import plain


@pytest.fixture
def no_service(settings) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="authsvc-") as tmp:
        settings.MAILAPP_AUTH_SERVICE = True
        settings.MAILAPP_AUTH_SOCKET = Path(tmp) / "socket"
        authsvc._client = None
        yield settings.MAILAPP_AUTH_SOCKET
        authsvc._client = None


def test_smtp_auth_answers_454(no_service, agent):  # noqa: F811
    with agent.smtps() as client:
        client.ehlo("client.test")
        code, text = client.docmd("AUTH PLAIN", plain("alice@example.com", PASSWORD))
        assert code == 454 and b"Temporary authentication failure" in text
        code, _ = client.docmd("MAIL FROM:<alice@example.com>")
        assert code == 530  # not logged in
    assert not LoginFailure.objects.exists()  # not counted as a guess


def test_managesieve_answers_trylater(no_service, sieved):  # noqa: F811
    client = Client(sieved.port)
    try:
        client.response()
        client.starttls()
        answer = client.login()
        assert answer.startswith(b"NO (TRYLATER)"), answer
        assert client.command(b"LISTSCRIPTS\r\n")[-1].startswith(b"NO")  # not logged in
    finally:
        client.close()


def test_the_service_up_again_lets_the_same_door_in(no_service, agent):  # noqa: F811
    from agents.authsvc.server import serve_in_thread

    server, thread = serve_in_thread(no_service, mail_guard())
    try:
        with agent.smtps() as client:
            client.ehlo("client.test")
            assert client.docmd("AUTH PLAIN", plain("alice@example.com", PASSWORD))[0] == 235
        metrics.flush()  # the login counters, while the test database still exists
    finally:
        server.shutdown()
        server.remove()
        thread.join(10)
        authsvc.client().close()
