"""SMTP AUTH PLAIN and LOGIN (RFC 4954, 4616) against ``agents.config.authenticate``.

aiosmtpd's own mechanisms call a synchronous authenticator on the event loop;
a password hash takes tens of milliseconds, which would stall every session.
These replace them (aiosmtpd takes ``auth_*`` methods of the handler over its
own) and run the check in a thread. Failures are counted per client IP for the
temporary lockout.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
from base64 import b64decode
from collections.abc import Awaitable, Callable

from aiosmtpd.smtp import MISSING, SMTP, AuthResult

from agents.authcache import login_peer

from . import replies
from .limits import PeerLimits

log = logging.getLogger(__name__)

Verifier = Callable[[str, str], Awaitable[str | None]]  # (login, password) -> canonical address or None


def peer_ip(server: SMTP) -> str:
    peer = server.session.peer if server.session else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


async def config_verifier(login: str, password: str) -> str | None:
    """Check a login against the mailboxes (in a thread: Django ORM and a password hash)."""
    from agents import config

    info = await asyncio.to_thread(config.authenticate, login, password, "smtp")
    return info.address if info else None


class AuthMechanisms:
    """Mixin for the handler: ``auth_PLAIN`` and ``auth_LOGIN`` plus the lockout gate."""

    limits: PeerLimits
    verify: Verifier

    def _rejected(self) -> None:  # overridden by the handler to count the rejection
        pass

    async def handle_AUTH(self, server: SMTP, session, envelope, args: list[str]):
        """Refuse early while the client IP is locked out after too many failures."""
        if self.limits.locked_out(peer_ip(server)):
            self._rejected()
            return replies.AUTH_LOCKED
        return MISSING

    async def _check(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        ip = peer_ip(server)
        if self.limits.locked_out(ip):
            self._rejected()
            return AuthResult(success=False, handled=False, message=replies.AUTH_LOCKED)
        user = login.decode("utf-8", "replace").strip()
        login_peer.set(ip)  # this connection's task (to_thread copies it): an app password's last use
        address = await self.verify(user, password.decode("utf-8", "replace")) if user else None
        if address is None:
            self.limits.auth_failed(ip)
            self._rejected()
            log.info("AUTH failed for %r from %s", user[:100], ip)
            return AuthResult(success=False, handled=False, message=replies.AUTH_FAILED)
        self.limits.auth_succeeded(ip)
        return AuthResult(success=True, auth_data=address, message=replies.AUTH_OK)

    async def _challenge(self, server: SMTP, text: str) -> bytes | None:
        answer = await server.challenge_auth(text)
        return None if answer is MISSING else answer  # aiosmtpd already replied 501

    @staticmethod
    def _initial(arg: str) -> bytes | None:
        if arg == "=":  # RFC 4954: "=" is an empty initial response
            return b""
        try:
            return b64decode(arg.encode("ascii", "replace"), validate=True)
        except (binascii.Error, ValueError):
            return None

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) > 1:
            blob = self._initial(args[1])
            if blob is None:
                return AuthResult(success=False, handled=False, message="501 5.5.2 Error: invalid base64 data")
        else:
            blob = await self._challenge(server, "")
            if blob is None:
                return AuthResult(success=False)
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Error: malformed PLAIN response")
        authzid, login, password = parts
        if authzid and authzid != login:  # RFC 4616: acting as another user is not offered here
            self._rejected()
            return AuthResult(success=False, handled=False, message=replies.AUTH_FAILED)
        return await self._check(server, login, password)

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        if len(args) > 1:
            login = self._initial(args[1])
            if login is None:
                return AuthResult(success=False, handled=False, message="501 5.5.2 Error: invalid base64 data")
        else:
            login = await self._challenge(server, "Username:")
            if login is None:
                return AuthResult(success=False)
        password = await self._challenge(server, "Password:")
        if password is None:
            return AuthResult(success=False)
        return await self._check(server, login, password)
