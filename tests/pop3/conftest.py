"""POP3 protocol fixtures: the real server, in-process, on ephemeral loopback ports.

The server runs its own asyncio loop in a background thread, against a
temporary store and the test database (``transactional_db``, so the server's
threads see the committed mailboxes).
"""

from __future__ import annotations

import asyncio
import poplib
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.conf import settings

from agents.pop3.runner import build_server
from agents.pop3.server import Pop3Server
from agents.store import Store
from agents.tls import settings_server_context
from tests.conftest import PASSWORD
from tests.serverthread import serving


@dataclass
class RunningPop3:
    server: Pop3Server
    store: Store
    loop: asyncio.AbstractEventLoop
    port: int
    tls_port: int
    clients: list[poplib.POP3] = field(default_factory=list)  # closed by the fixture, whatever the test did

    def connect(self, timeout: float = 10) -> poplib.POP3:
        client = poplib.POP3("127.0.0.1", self.port, timeout=timeout)
        self.clients.append(client)
        return client

    def connect_tls(self, timeout: float = 10) -> poplib.POP3_SSL:
        client = poplib.POP3_SSL("127.0.0.1", self.tls_port, timeout=timeout, context=client_context())
        self.clients.append(client)
        return client

    def login(self, address: str = "alice@example.com", password: str = PASSWORD) -> poplib.POP3:
        client = self.connect()
        client.user(address)
        client.pass_(password)
        return client

    def deliver(self, address: str, raw: bytes) -> int:
        return self.store.mailbox(address).deliver(raw)[1]

    def inbox(self, address: str = "alice@example.com"):  # type: ignore[no-untyped-def]
        folder = self.store.mailbox(address).folder("INBOX")
        folder.refresh()
        return folder


def client_context() -> ssl.SSLContext:
    """A client context that trusts exactly the appliance's own (self-signed) certificate."""
    context = ssl.create_default_context(cafile=str(settings.MAILAPP_TLS_CERT))
    context.check_hostname = False  # the certificate names MAILAPP_HOSTNAME and localhost, we dial 127.0.0.1
    return context


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 at full strength costs ~0.3 s a check; the hash algorithm is not what these tests test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def pop3(transactional_db, example_com, tmp_path) -> Iterator[RunningPop3]:
    store = Store(tmp_path / "mail")
    server = build_server(bind="127.0.0.1", port=0, tls_port=0, ssl_context=settings_server_context(), store=store)
    server.config.dev_mode = True
    with serving(server, "pop3-test-server") as loop:
        port, tls_port = server.ports
        running = RunningPop3(server, store, loop, port, tls_port)
        yield running
        for client in running.clients:
            client.close()


@pytest.fixture
def raw_session(pop3) -> Callable[..., RawClient]:
    """Open a raw socket session (for hostile input poplib would never send)."""
    clients: list[RawClient] = []

    def make(port: int | None = None) -> RawClient:
        client = RawClient("127.0.0.1", port or pop3.port)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


class RawClient:
    """A bare socket with a line reader and a deadline on every read."""

    def __init__(self, host: str, port: int, timeout: float = 10) -> None:
        import socket

        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.readline()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def readline(self) -> bytes:
        return self.file.readline(100_000)

    def command(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.readline()

    def multiline(self) -> list[bytes]:
        lines = []
        for _ in range(100_000):
            line = self.readline()
            if line in (b".\r\n", b""):
                break
            lines.append(line)
        return lines

    def close(self) -> None:
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass
