"""An smtp agent on loopback for each test: the real listeners in a thread of this process.

``smtp_agent(**overrides)`` starts one (ephemeral ports, the appliance's TLS
certificate, the test database) and returns a handle with its ports; it stops at
the end of the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator

import pytest
import uvloop
from django.conf import settings

from agents.smtp.directory import ConfigDirectory
from agents.smtp.server import ServerConfig, SmtpServer, config_from_settings
from agents.tls import settings_server_context
from tests.conftest import free_port
from tests.serverthread import serving


@dataclasses.dataclass
class Agent:
    server: SmtpServer
    loop: asyncio.AbstractEventLoop
    mx: int
    submission: int
    smtps_port: int
    host: str = "127.0.0.1"
    clients: list[smtplib.SMTP | RawClient] = dataclasses.field(default_factory=list)  # closed at teardown

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the appliance's own certificate."""
        return ssl.create_default_context(cafile=str(settings.MAILAPP_TLS_CERT))

    def smtp(self, port: int | None = None, **kwargs) -> smtplib.SMTP:
        client = smtplib.SMTP(self.host, port or self.mx, timeout=10, **kwargs)
        self.clients.append(client)
        return client

    def smtps(self) -> smtplib.SMTP_SSL:
        client = smtplib.SMTP_SSL(self.host, self.smtps_port, timeout=10, context=self.client_context())
        self.clients.append(client)
        return client

    def raw(self, port: int | None = None) -> RawClient:
        client = RawClient(self.host, port or self.mx)
        self.clients.append(client)
        return client

    def wait_until_idle(self, timeout: float = 30) -> None:
        """Return once every session has ended and no message is being queued.

        After this, the server has certainly processed whatever it was sent, so
        a test may assert that something did *not* happen. Bounded: raises
        ``TimeoutError`` if a session is still running after ``timeout`` seconds.
        """
        server = self.server

        async def idle() -> None:
            while server.in_flight[0] or any(
                not task.done()
                for session in list(server.sessions)
                if (task := getattr(session, "_handler_coroutine", None)) is not None
            ):
                await asyncio.sleep(0.01)

        asyncio.run_coroutine_threadsafe(asyncio.wait_for(idle(), timeout), self.loop).result(timeout + 5)


class RawClient:
    """A socket that speaks SMTP by hand, for hostile input no library would send."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buffer = b""
        self.greeting = self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; buffer {self.buffer!r}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def reply(self) -> str:
        """One whole reply (all its lines), as text."""
        lines = [self.line()]
        while lines[-1][3:4] == b"-":
            lines.append(self.line())
        return "\n".join(x.decode("utf-8", "replace") for x in lines)

    def cmd(self, command: str | bytes) -> str:
        data = command.encode() if isinstance(command, str) else command
        self.send(data + b"\r\n")
        return self.reply()

    def closed(self, timeout: float = 30) -> bool:  # bounds the wait on a loaded machine
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(autouse=True)
def _fast_password_hashes(settings):
    """Mailbox passwords hashed cheaply: these tests are about SMTP, not PBKDF2's cost."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def smtp_agent(transactional_db) -> Iterator[Callable[..., Agent]]:
    started: list[Agent] = []
    with contextlib.ExitStack() as running:

        def start(**overrides) -> Agent:
            use_uvloop = overrides.pop("uvloop", False)
            base = config_from_settings()
            ports = {"smtp": free_port(), "submission": free_port(), "smtps": free_port()}
            listeners = [dataclasses.replace(li, port=ports[li.name]) for li in base.listeners]
            options = dataclasses.replace(base.options, **overrides.pop("options", {}))
            config: ServerConfig = dataclasses.replace(
                base, bind="127.0.0.1", listeners=listeners, options=options, **{"dev_mode": False, **overrides}
            )
            server = SmtpServer(config, settings_server_context(), ConfigDirectory(), reserve=2)
            # The agent's own loop is uvloop (agents.smtp.server.run_loop); asyncio's unless asked.
            loop = running.enter_context(serving(server, "smtp-test-server", workers=16,
                                                 loop=uvloop.new_event_loop() if use_uvloop else None))
            agent = Agent(server, loop, ports["smtp"], ports["submission"], ports["smtps"])
            started.append(agent)
            return agent

        yield start
        for agent in started:
            for client in agent.clients:
                client.close()


@pytest.fixture
def agent(smtp_agent, example_com) -> Agent:
    """An agent with dev mode off (loopback is treated like any client) and example.com set up."""
    return smtp_agent()


def message(subject: str = "Hello", body: str = "Hi there.", sender: str = "carol@remote.test",
            to: str = "alice@example.com") -> bytes:
    text = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}@t>\r\n\r\n"
    return (text + body + "\r\n").encode()
