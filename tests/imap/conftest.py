"""IMAP test fixtures: a real server on ephemeral loopback ports, run in a background thread."""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agents.imap.server import ImapServer, Limits
from agents.imap.service import authenticate
from agents.imap.session import User
from agents.loginguard import GuardPolicy, LoginGuard, MemoryStore
from agents.store import Store
from agents.tls import ensure_certificate, server_context
from tests.conftest import PASSWORD
from tests.serverthread import call, loop_thread

ALICE = "alice@example.com"
BOB = "bob@example.com"


def message(subject: str = "Hello", body: str = "Hi there.\r\n", sender: str = "carol@example.net",
            to: str = ALICE, extra: str = "") -> bytes:
    return (f"From: Carol <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{abs(hash((subject, body)))}@example.net>\r\n{extra}\r\n{body}").encode()


@dataclass
class RunningServer:
    host: str
    port: int
    tls_port: int
    store: Store
    cert: Path
    server: ImapServer
    clients: list[imaplib.IMAP4] = field(default_factory=list)  # closed at teardown, whatever the test did

    def client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        self.clients.append(imap)
        return imap

    def close_clients(self) -> None:
        for imap in self.clients:  # not shutdown(): it raises on a socket a test already closed
            imap.file.close()
            imap.sock.close()

    def login(self, user: str = ALICE) -> imaplib.IMAP4:
        imap = self.client()
        imap.login(user, PASSWORD)
        return imap

    def tls_client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cert))
        return context

    def deliver(self, raw: bytes, user: str = ALICE, folder: str = "INBOX") -> int:
        return self.store.mailbox(user).deliver(raw, folder)[1]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("tls")
    cert, key = base / "cert.pem", base / "key.pem"
    ensure_certificate(cert, key, "localhost")
    return cert, key


def short_guard() -> LoginGuard:
    """The login guard in this process's memory, with short delays (the database one is tested apart)."""
    return LoginGuard(MemoryStore(), GuardPolicy(delay=0.01, max_delay=0.04))


def fake_authenticate(address: str, password: str) -> User | None:
    """Stand-in for agents.config.authenticate in protocol tests that need no database."""
    if address.lower() in (ALICE, BOB) and password == PASSWORD:
        return User(address.lower(), quota=0)
    return None


def _run_server(store: Store, tls_files: tuple[Path, Path], *, dev_mode: bool = True, auth=fake_authenticate,
                limits: Limits | None = None, throttle: LoginGuard | None = None,
                junk_training=None, evictions=None) -> Iterator[RunningServer]:
    cert, key = tls_files
    server = ImapServer(store.mailbox, auth, ssl_context=server_context(cert, key), dev_mode=dev_mode,
                        limits=limits or Limits(max_literal=1024 * 1024, max_line=8192, idle_timeout=60),
                        hostname="imap.test", throttle=throttle or short_guard(), junk_training=junk_training,
                        evictions=evictions)
    with loop_thread("imap-test-server") as loop:
        ports = call(loop, server.start("127.0.0.1", 0, 0))
        running = RunningServer("127.0.0.1", ports[0], ports[1], store, cert, server)
        try:
            yield running
        finally:
            running.close_clients()
            call(loop, server.close())


@pytest.fixture
def imap_store(tmp_path) -> Store:
    return Store(tmp_path / "mail")


@pytest.fixture
def imap_server(imap_store, tls_files) -> Iterator[RunningServer]:
    """A server in dev mode (plaintext LOGIN on loopback) for alice@ and bob@example.com, no database."""
    yield from _run_server(imap_store, tls_files)


@pytest.fixture
def db_imap_server(transactional_db, example_com, imap_store, tls_files) -> Iterator[RunningServer]:
    """A server that authenticates through agents.config (mailbox passwords and IMAP permission)."""
    from agents.imap.service import junk_training

    yield from _run_server(imap_store, tls_files, auth=authenticate, junk_training=junk_training)


@pytest.fixture
def strict_imap_server(imap_store, tls_files) -> Iterator[RunningServer]:
    """A server not in dev mode: LOGIN only after TLS."""
    yield from _run_server(imap_store, tls_files, dev_mode=False)
