"""A ManageSieve session (RFC 5804): the state machine between the wire and the scripts.

No sockets here: :meth:`Session.handle` takes a parsed command and returns a
:class:`Reply` (bytes, and whether to start TLS, close, or read an authentication
continuation). Logins go through the one login guard, like IMAP and POP3; plaintext
authentication needs TLS, except from loopback in dev mode.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from dataclasses import dataclass, field
from typing import Protocol

from agents.loginguard import LoginGuard, LoginUnavailable
from mailcore import sieve as ms

from .parser import Command, quoted, response

log = logging.getLogger("agents.managesieve")


class Refused(Exception):
    """A backend refusal: the text and a response code (``QUOTA/MAXSIZE``, ``NONEXISTENT``...)."""

    def __init__(self, text: str, code: str = "") -> None:
        super().__init__(text)
        self.text, self.code = text, code


class Backend(Protocol):
    async def authenticate(self, user: str, password: str) -> str | None: ...
    async def call(self, operation: str, address: str, *args: object) -> object: ...


@dataclass
class Reply:
    data: bytes
    close: bool = False
    start_tls: bool = False
    continuation: bool = False  # read one client string and pass it to Session.respond
    delay: float = 0.0


@dataclass
class Session:
    hostname: str
    backend: Backend
    guard: LoginGuard
    peer_ip: str
    peer_loopback: bool
    tls_available: bool
    dev_mode: bool
    tls: bool = False
    address: str | None = None
    failures: int = 0
    _sasl: list[str] = field(default_factory=list)  # the mechanism, then what the client sent so far

    @property
    def plaintext_allowed(self) -> bool:
        return self.tls or (self.dev_mode and self.peer_loopback)

    def capability(self) -> bytes:
        lines = [b'"IMPLEMENTATION" "mailappliance"',
                 b'"SIEVE" ' + quoted(" ".join(e for e in ms.EXTENSIONS if not e.startswith("comparator-"))),
                 b'"VERSION" "1.0"', b'"MAXREDIRECTS" "8"']
        if self.address is None:
            lines.insert(1, b'"SASL" ' + quoted("PLAIN LOGIN" if self.plaintext_allowed else ""))
        if self.tls_available and not self.tls and self.address is None:
            lines.append(b'"STARTTLS"')
        if self.address is not None:
            lines.append(b'"OWNER" ' + quoted(self.address))
        return b"".join(line + b"\r\n" for line in lines) + response("OK")

    def tls_started(self) -> None:
        self.tls = True

    async def handle(self, cmd: Command) -> Reply:
        handler = getattr(self, "cmd_" + cmd.name.lower(), None)
        if handler is None:
            return Reply(response("NO", f"unknown command {cmd.name[:20]}"))
        needs_login = cmd.name not in ("CAPABILITY", "STARTTLS", "AUTHENTICATE", "LOGOUT", "NOOP")
        if needs_login and self.address is None:
            return Reply(response("NO", "log in first"))
        try:
            return await handler(*cmd.args)
        except TypeError:
            return Reply(response("NO", f"wrong arguments for {cmd.name}"))
        except Refused as exc:
            return Reply(response("NO", exc.text, exc.code))

    # --- any state -------------------------------------------------------------------------------

    async def cmd_capability(self) -> Reply:
        return Reply(self.capability())

    async def cmd_noop(self, tag: str | None = None) -> Reply:
        return Reply(response("OK", "Done", f"TAG {quoted(str(tag)).decode()}" if tag is not None else ""))

    async def cmd_logout(self) -> Reply:
        return Reply(response("OK", "Bye"), close=True)

    async def cmd_starttls(self) -> Reply:
        if self.tls or not self.tls_available or self.address is not None:
            return Reply(response("NO", "TLS is not available now"))
        return Reply(response("OK", "Begin TLS negotiation now"), start_tls=True)

    # --- logging in ------------------------------------------------------------------------------

    async def cmd_authenticate(self, mechanism: str, initial: str | None = None) -> Reply:
        if self.address is not None:
            return Reply(response("NO", "already logged in"))
        if not self.plaintext_allowed:
            return Reply(response("NO", "use STARTTLS first", "ENCRYPT-NEEDED"))
        mechanism = str(mechanism).upper()
        if mechanism not in ("PLAIN", "LOGIN"):
            return Reply(response("NO", "unsupported mechanism"))
        self._sasl = [mechanism]
        if initial is not None:
            return await self.respond(str(initial))
        return Reply(b'"' + (b"VXNlcm5hbWU6" if mechanism == "LOGIN" else b"") + b'"\r\n', continuation=True)

    async def respond(self, text: str) -> Reply:
        """The client's answer to an authentication continuation (``"*"`` cancels)."""
        if text == "*":
            self._sasl = []
            return Reply(response("NO", "authentication cancelled"))
        try:
            decoded = base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            self._sasl = []
            return Reply(response("NO", "malformed SASL response"))
        mechanism = self._sasl[0] if self._sasl else ""
        if mechanism == "LOGIN" and len(self._sasl) == 1:
            self._sasl.append(decoded)
            return Reply(b'"UGFzc3dvcmQ6"\r\n', continuation=True)
        if mechanism == "LOGIN":
            user, password = self._sasl[1], decoded
        else:
            try:
                authzid, user, password = decoded.split("\0")
            except ValueError:
                self._sasl = []
                return Reply(response("NO", "malformed SASL PLAIN response"))
            if authzid and authzid.lower() != user.lower():
                self._sasl = []
                return await self._failed(user, "authorization identity differs")
        self._sasl = []
        return await self._login(user, password)

    async def _login(self, user: str, password: str) -> Reply:
        verdict = await asyncio.to_thread(self.guard.check, self.peer_ip, user)
        if not verdict.allowed:
            log.warning("managesieve: login refused for %r from %s: too many failures", user[:100], self.peer_ip)
            return Reply(response("BYE", "too many failed logins, try again later"), close=True)
        try:
            address = await self.backend.authenticate(user, password) if user and password else None
        except LoginUnavailable as exc:  # a temporary failure, never a login, not a guess
            log.error("managesieve: login of %r from %s not checked: %s", user[:100], self.peer_ip, exc)
            return Reply(response("NO", "authentication service unavailable, try again later", code="TRYLATER"))
        if address is None:
            return await self._failed(user, "bad credentials")
        if verdict.failures:
            await asyncio.to_thread(self.guard.succeeded, self.peer_ip, user, verdict)
        self.address = address
        log.info("managesieve: login %s from %s", address, self.peer_ip)
        return Reply(response("OK", "Logged in"))

    async def _failed(self, user: str, why: str) -> Reply:
        self.failures += 1
        delay = await asyncio.to_thread(self.guard.failed, self.peer_ip, user, "managesieve")
        log.warning("managesieve: failed login for %r from %s: %s", user[:100], self.peer_ip, why)
        close = self.failures >= self.guard.policy.per_connection
        return Reply(response("NO", "authentication failed"), close=close, delay=delay)

    # --- scripts ---------------------------------------------------------------------------------

    async def _call(self, operation: str, *args: object) -> object:
        assert self.address is not None
        return await self.backend.call(operation, self.address, *args)

    async def cmd_listscripts(self) -> Reply:
        rows = await self._call("list_scripts")
        assert isinstance(rows, list)
        out = b"".join(quoted(name) + (b" ACTIVE" if active else b"") + b"\r\n" for name, active in rows)
        return Reply(out + response("OK", "Listscripts completed"))

    async def cmd_getscript(self, name: str) -> Reply:
        text = await self._call("get_script", str(name))
        data = str(text).encode("utf-8")
        return Reply(b"{%d}\r\n" % len(data) + data + b"\r\n" + response("OK", "Getscript completed"))

    async def cmd_putscript(self, name: str, text: str) -> Reply:
        await self._call("put_script", _name(name), str(text))
        return Reply(response("OK", "Putscript completed"))

    async def cmd_checkscript(self, text: str) -> Reply:
        await self._call("check_script", str(text))
        return Reply(response("OK", "Script is valid"))

    async def cmd_setactive(self, name: str) -> Reply:
        await self._call("set_active", str(name))
        return Reply(response("OK", "Setactive completed"))

    async def cmd_deletescript(self, name: str) -> Reply:
        await self._call("delete_script", str(name))
        return Reply(response("OK", "Deletescript completed"))

    async def cmd_renamescript(self, old: str, new: str) -> Reply:
        await self._call("rename_script", str(old), _name(new))
        return Reply(response("OK", "Renamescript completed"))

    async def cmd_havespace(self, name: str, size: int) -> Reply:
        if not isinstance(size, int):
            return Reply(response("NO", "the size is a number"))
        await self._call("have_space", _name(name), size)
        return Reply(response("OK", "Putscript would succeed"))

    async def cmd_unauthenticate(self) -> Reply:
        self.address = None
        return Reply(response("OK", "Unauthenticated"))


def _name(name: object) -> str:
    text = str(name)
    if not text or len(text) > 100 or "/" in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise Refused("a script name is 1 to 100 printable characters without “/”")
    return text
