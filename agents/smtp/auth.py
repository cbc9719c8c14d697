"""SMTP AUTH PLAIN and LOGIN (RFC 4954, 4616) against ``agents.authsvc.authenticate`` (the auth service, or in process).

aiosmtpd's own mechanisms call a synchronous authenticator on the event loop;
a password hash takes tens of milliseconds, which would stall every session.
These replace them (aiosmtpd takes ``auth_*`` methods of the handler over its
own) and run the check in a thread. The handler's ``handle_AUTH`` hook runs the
mechanism and records the result on the session itself: aiosmtpd 1.4.6's own
dispatch also sets the deprecated ``Session.login_data``, which logs "login_data is
deprecated" on every successful AUTH. The login guard (``agents.loginguard``) is
asked before the password is hashed and counts failures; after
``per_connection`` refused tries the connection is closed.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
from base64 import b64decode
from collections.abc import Awaitable, Callable

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from agents.authcache import login_peer
from agents.loginguard import LoginGuard, LoginUnavailable

from . import replies

log = logging.getLogger(__name__)

Verifier = Callable[[str, str], Awaitable[str | None]]  # (login, password) -> canonical address or None


def peer_ip(server: SMTP) -> str:
    peer = server.session.peer if server.session else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


async def config_verifier(login: str, password: str) -> str | None:
    """Check a login against the mailboxes (in a thread: Django ORM and a password hash)."""
    from agents import authsvc

    info = await asyncio.to_thread(authsvc.authenticate, login, password, "smtp")
    return info.address if info else None


class AuthMechanisms:
    """Mixin for the handler: ``auth_PLAIN`` and ``auth_LOGIN``, asking the login guard first."""

    guard: LoginGuard
    verify: Verifier

    def _rejected(self) -> None:  # overridden by the handler to count the rejection
        pass

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]) -> str | None:
        """aiosmtpd's AUTH hook: run ``auth_<MECHANISM>`` and answer as aiosmtpd would.

        aiosmtpd has already checked EHLO, TLS, "already authenticated" and that the
        mechanism is offered. Success sets ``session.authenticated`` and ``auth_data``
        (the canonical address), the non-deprecated half of aiosmtpd's session API.
        Returns the reply, or None when the mechanism already answered.
        """
        mechanism = getattr(self, f"auth_{args[0].upper()}", None)
        if mechanism is None:  # not reached: aiosmtpd only lets offered mechanisms through
            return "504 5.5.4 Unrecognized authentication type"
        result = await mechanism(server, args)
        if result.success:
            session.authenticated = True
            session.auth_data = result.auth_data
            return result.message or replies.AUTH_OK
        if result.handled:
            return None
        return result.message or replies.AUTH_FAILED

    async def _check(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        ip = peer_ip(server)
        user = login.decode("utf-8", "replace").strip()
        login_peer.set(ip)  # this connection's task (to_thread copies it): an app password's last use
        # The guard decides before any hash is computed (a database look-up: in a thread).
        verdict = await asyncio.to_thread(self.guard.check, ip, user)
        if not verdict.allowed:
            self.guard.outcome("smtp", "refused")
            self._rejected()
            return await self._refuse(server, replies.AUTH_LOCKED)
        try:
            address = await self.verify(user, password.decode("utf-8", "replace")) if user else None
        except LoginUnavailable as exc:  # a temporary failure, never a login, not a guess
            log.error("AUTH of %r from %s not checked: %s", user[:100], ip, exc)
            return AuthResult(success=False, handled=False, message=replies.AUTH_TEMPFAIL)
        if address is None:
            return await self._failed(server, user, ip)
        self.guard.outcome("smtp", "success")
        if verdict.failures:
            await asyncio.to_thread(self.guard.succeeded, ip, user, verdict)
        return AuthResult(success=True, auth_data=address, message=replies.AUTH_OK)

    async def _failed(self, server: SMTP, user: str, ip: str) -> AuthResult:
        """Count a failure with the guard and wait its delay (this session only) before answering."""
        delay = await asyncio.to_thread(self.guard.failed, ip, user, "smtp")
        self._rejected()
        log.info("AUTH failed for %r from %s", user[:100], ip)
        if delay:
            await asyncio.sleep(delay)
        return await self._refuse(server, replies.AUTH_FAILED)

    async def _refuse(self, server: SMTP, message: str) -> AuthResult:
        """Answer a refused AUTH; the last of ``per_connection`` tries also ends the connection."""
        tries = getattr(server, "auth_tries", 0) + 1
        server.auth_tries = tries  # type: ignore[attr-defined]  # one aiosmtpd SMTP object per connection
        if tries < self.guard.policy.per_connection:
            return AuthResult(success=False, handled=False, message=message)
        await server.push(message)
        if server.transport is not None:
            server.transport.close()
        return AuthResult(success=False, handled=True)

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
            return await self._failed(server, login.decode("utf-8", "replace").strip(), peer_ip(server))
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
