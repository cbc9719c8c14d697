"""swaks, a real SMTP client, delivers to the queue on all three ports (TLS verified)."""

from __future__ import annotations

import subprocess

import pytest
from django.conf import settings

from agents.models import QueueMessage
from tests.conftest import PASSWORD

pytestmark = pytest.mark.clients


def swaks(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--helo", "swaks.test", "--timeout", "10", *args],
        capture_output=True, text=True, timeout=30,
    )


def tls_args() -> list[str]:
    return ["--tls-verify", "--tls-ca-path", str(settings.MAILAPP_TLS_CERT)]


def test_swaks_on_the_mx_port(agent):
    done = swaks("--port", str(agent.mx), "--from", "carol@remote.test", "--to", "alice@example.com")
    assert done.returncode == 0, done.stdout
    assert QueueMessage.objects.get().source == "smtp"


def test_swaks_on_the_mx_port_with_starttls(agent):
    done = swaks("--port", str(agent.mx), "--tls", *tls_args(), "--from", "carol@remote.test",
                 "--to", "bob@example.com")
    assert done.returncode == 0, done.stdout
    assert QueueMessage.objects.get().tls.startswith("TLSv1.")


def test_swaks_on_submission_with_starttls_and_auth(agent):
    done = swaks("--port", str(agent.submission), "--tls", *tls_args(), "--auth", "LOGIN",
                 "--auth-user", "alice@example.com", "--auth-password", PASSWORD,
                 "--from", "alice@example.com", "--to", "dave@elsewhere.test")
    assert done.returncode == 0, done.stdout
    row = QueueMessage.objects.get()
    assert (row.source, row.auth_user) == ("submission", "alice@example.com")


def test_swaks_on_smtps_with_auth(agent):
    done = swaks("--port", str(agent.smtps_port), "--tls-on-connect", *tls_args(), "--auth", "PLAIN",
                 "--auth-user", "bob@example.com", "--auth-password", PASSWORD,
                 "--from", "bob@example.com", "--to", "alice@example.com")
    assert done.returncode == 0, done.stdout
    assert QueueMessage.objects.get().source == "smtps"


def test_swaks_sees_relay_denied(agent):
    done = swaks("--port", str(agent.mx), "--from", "carol@remote.test", "--to", "dave@elsewhere.test")
    assert done.returncode != 0 and "554 5.7.1 <dave@elsewhere.test>: Relay access denied" in done.stdout
