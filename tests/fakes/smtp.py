"""A fake remote SMTP server (an "MX host" of another domain) on loopback, for tests.

An aiosmtpd ``Controller`` in a thread that records every message it accepts
and can answer 4xx/5xx per recipient, per attempt. Reusable by any test that
needs the outside world's mail servers::

    from tests.fakes.smtp import FakeSMTP

    with FakeSMTP(replies={"later@example.net": ["451 4.3.0 try again", "250 OK"],
                           "nobody@example.net": ["550 5.1.1 no such user"]},
                  starttls=True) as mx:
        ...  # deliver to 127.0.0.1:mx.port
        assert mx.recipients_count()["ok@example.net"] == 1
        mx.messages[0].data   # the bytes received after DATA

``replies`` maps a recipient (lowercase) to a list of RCPT replies used one per
attempt, the last one repeating; unknown recipients get ``250 OK``.
``data_replies`` does the same for the reply to the end of DATA, per
transaction. ``host`` may be any loopback address (127.0.0.2, …) so that several
fake MX hosts share one port, as ``MAILAPP_REMOTE_SMTP_PORT`` is one number.
``auth={"user": "password"}`` offers AUTH PLAIN/LOGIN (a smarthost);
``starttls`` offers STARTTLS with a fresh self-signed certificate.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.conftest import free_port


class _Controller(Controller):
    """aiosmtpd's controller, keeping its sessions so that ``stop`` can close their connections
    (its own stop leaves them to the garbage collector: a ResourceWarning per open client)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        session = super().factory()
        self.sessions.append(session)
        return session

    def stop(self, no_assert: bool = False) -> None:
        async def close_sessions() -> None:
            for session in self.sessions:
                # After STARTTLS the session talks through a TLS transport over the original one.
                for transport in (session.transport, getattr(session, "_original_transport", None)):
                    if transport is not None:
                        transport.abort()
            await asyncio.sleep(0)  # let each transport's connection_lost run and close its socket
            await asyncio.sleep(0)

        if self._thread is not None:
            asyncio.run_coroutine_threadsafe(close_sessions(), self.loop).result(10)
        self.sessions.clear()
        super().stop(no_assert)


@dataclass
class Received:
    """One accepted transaction."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    auth_user: str = ""
    session: int = 0  # the same number for transactions on one connection


@dataclass
class _Handler:
    replies: dict[str, list[str]]
    data_replies: list[str]
    messages: list[Received] = field(default_factory=list)
    rcpt_attempts: dict[str, int] = field(default_factory=dict)
    data_attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _next(self, choices: list[str], attempt: int) -> str:
        return choices[min(attempt, len(choices) - 1)]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd hook)
        key = address.lower()
        with self.lock:
            attempt = self.rcpt_attempts.get(key, 0)
            self.rcpt_attempts[key] = attempt + 1
        reply = self._next(self.replies[key], attempt) if self.replies.get(key) else "250 OK"
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        with self.lock:
            attempt = self.data_attempts
            self.data_attempts += 1
        reply = self._next(self.data_replies, attempt) if self.data_replies else "250 OK queued"
        if reply.startswith("2"):
            auth = session.auth_data if isinstance(session.auth_data, str) else ""
            with self.lock:
                self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                              bytes(envelope.original_content or envelope.content or b""),
                                              session.ssl is not None, auth, id(session)))
        return reply


def _tls_context(hostname: str) -> ssl.SSLContext:
    from agents.tls import ensure_certificate, server_context

    folder = Path(tempfile.mkdtemp(prefix="fake-smtp-tls-"))
    ensure_certificate(folder / "cert.pem", folder / "key.pem", hostname)
    return server_context(folder / "cert.pem", folder / "key.pem")


class FakeSMTP:
    """A recording SMTP server on ``host``:``port`` (a free port if none is given)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None,
                 replies: dict[str, list[str]] | None = None, data_replies: list[str] | None = None,
                 starttls: bool = False, auth: dict[str, str] | None = None,
                 hostname: str = "mx.fake.test") -> None:
        self.host = host
        self.port = port or free_port()
        self.handler = _Handler({k.lower(): v for k, v in (replies or {}).items()}, list(data_replies or []))
        self.auth = auth
        kwargs: dict = {"server_hostname": hostname, "ready_timeout": 10}
        if starttls:
            kwargs["tls_context"] = _tls_context(hostname)
        if auth is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = False
        self.controller = _Controller(self.handler, hostname=host, port=self.port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.auth is not None:
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.auth.get(user) == password:
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def recipients_count(self) -> dict[str, int]:
        """How many accepted messages each recipient (lowercase) got."""
        counts: dict[str, int] = {}
        for message in self.messages:
            for rcpt in message.rcpt_tos:
                counts[rcpt.lower()] = counts.get(rcpt.lower(), 0) + 1
        return counts

    def set_replies(self, address: str, replies: list[str]) -> None:
        with self.handler.lock:
            self.handler.replies[address.lower()] = replies
            self.handler.rcpt_attempts[address.lower()] = 0

    def start(self) -> FakeSMTP:
        # aiosmtpd logs every command at INFO; under load tests that costs more than the SMTP itself.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> FakeSMTP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
