"""ManageSieve fixtures: the real server, in-process, on an ephemeral loopback port (own loop, own thread)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from agents.managesieve.runner import build_server
from agents.managesieve.server import ManageSieveServer
from agents.tls import settings_server_context
from tests.serverthread import serving


@dataclass
class RunningSieve:
    server: ManageSieveServer
    port: int


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _run(dev_mode: bool) -> Iterator[RunningSieve]:
    server = build_server(bind="127.0.0.1", port=0, ssl_context=settings_server_context())
    server.config.dev_mode = dev_mode
    server.config.idle_timeout = 30
    with serving(server, "managesieve-test-server"):
        yield RunningSieve(server, server.port)


@pytest.fixture
def sieved(transactional_db, example_com) -> Iterator[RunningSieve]:
    """Production rules: plaintext logins only after STARTTLS."""
    yield from _run(dev_mode=False)


@pytest.fixture
def sieved_dev(transactional_db, example_com) -> Iterator[RunningSieve]:
    """Dev mode: plaintext logins from loopback allowed (sievelib's client has no STARTTLS certificate check)."""
    yield from _run(dev_mode=True)
