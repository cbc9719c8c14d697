"""The POP3 session: RFC 1939 states AUTHORIZATION → TRANSACTION → UPDATE.

The session turns parsed commands into replies. It knows nothing of sockets
(the server feeds it lines and acts on :class:`Reply` flags: start TLS, close)
nor of storage: it talks to a :class:`Backend` (authentication, opening a
maildrop) and a :class:`Maildrop` (a locked snapshot of the INBOX), both small
typed interfaces, so it runs in tests against an in-memory maildrop.

Choices, documented in docs/pop3.md:
- Deletions happen only when QUIT is given in TRANSACTION (the UPDATE state); a
  dropped connection deletes nothing.
- RETR marks the message \\Seen (as Dovecot does by default); TOP does not. The
  marks are written in one batch when the session ends, QUIT or not, so a
  maildrop of 20,000 messages is not 20,000 index writes.
- USER/PASS and AUTH PLAIN are offered only under TLS, or in dev mode from a
  loopback client. APOP is not offered: passwords are stored hashed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple, Protocol

from agents.loginguard import LoginGuard, LoginUnavailable

from . import parser as p
from . import wire

log = logging.getLogger("agents.pop3")


class MaildropInUse(Exception):
    """Another POP3 session holds this maildrop."""


class MaildropElsewhere(Exception):
    """Cluster mode: the mailbox lives on another node (the message says which)."""


class MessageUnavailable(Exception):
    """The message went away after the session started (expunged by IMAP, removed by hand)."""


class DropMessage(NamedTuple):
    """One message of the maildrop (a tuple: a snapshot of 20,000 is made at every login)."""

    uid: int
    size: int  # octets of the message with CRLF line ends, as RETR sends it before dot-stuffing
    uidl: str  # f"{uidvalidity}.{uid}", the same name IMAP uses


class Maildrop(Protocol):
    """A locked snapshot of one INBOX, held from login until the session ends."""

    @property
    def messages(self) -> Sequence[DropMessage]: ...

    async def fetch(self, uid: int) -> bytes:
        """The message with CRLF line ends; raises :class:`MessageUnavailable`."""
        ...

    def fetch_now(self, message: DropMessage) -> bytes | None:
        """The message (one of :attr:`messages`) if it can be had without waiting, else None.

        Raises :class:`MessageUnavailable` like :meth:`fetch`.
        """
        ...

    async def expunge(self, uids: Sequence[int]) -> None:
        """Remove these messages for good (the UPDATE state)."""
        ...

    async def mark_seen(self, uids: Sequence[int]) -> None: ...

    async def release(self) -> None:
        """Drop the lock; called once when the session ends, whatever happened."""
        ...

    def read_ahead(self, uid: int) -> None:
        """Best effort: prepare the message after ``uid`` (clients fetch in order)."""
        ...


class Backend(Protocol):
    async def authenticate(self, user: str, password: str) -> str | None:
        """The canonical mailbox address if the credentials are right and POP3 is allowed."""
        ...

    async def open_maildrop(self, address: str) -> Maildrop:
        """Lock and snapshot the INBOX of ``address``; raises :class:`MaildropInUse`."""
        ...


class State(Enum):
    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"


@dataclass(slots=True)
class Reply:
    """What to send, and what the server must do after sending it."""

    data: Sequence[bytes]
    close: bool = False
    start_tls: bool = False
    delay: float = 0.0  # seconds to wait before sending (failed logins)


@dataclass
class SessionConfig:
    hostname: str
    tls_available: bool  # STLS can be offered
    dev_mode: bool
    implementation: str = "mailappliance"


@dataclass
class Session:
    config: SessionConfig
    backend: Backend
    throttle: LoginGuard  # the login guard, shared by every door
    peer_ip: str
    peer_loopback: bool
    tls: bool = False
    relayed: bool = False  # a trusted mail proxy relays the client (it ended the client's TLS)
    state: State = State.AUTHORIZATION
    user: str | None = None  # from USER, waiting for PASS
    address: str | None = None  # after login
    maildrop: Maildrop | None = None
    deleted: set[int] = field(default_factory=set)  # message numbers
    seen: set[int] = field(default_factory=set)  # UIDs retrieved by RETR
    sasl_pending: str | None = None  # mechanism awaiting a continuation line
    last_sent: int | None = None  # UID of the last RETR/TOP, a hint for the read-ahead
    auth_failures: int = 0
    _ended: bool = False

    # --- what the server asks ---------------------------------------------------------------

    @property
    def max_line(self) -> int:
        """The longest line the next read may be (a SASL response may exceed 255 octets)."""
        return p.MAX_SASL_LINE if self.sasl_pending else p.MAX_COMMAND_LINE

    @property
    def plaintext_allowed(self) -> bool:
        return self.tls or self.relayed or (self.config.dev_mode and self.peer_loopback)

    def greeting(self) -> bytes:
        return wire.ok(f"{self.config.hostname} POP3 ready")

    def capabilities(self) -> list[str]:
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER"]
        if self.state is State.AUTHORIZATION:
            if self.plaintext_allowed:
                caps += ["USER", "SASL PLAIN"]
            if self.config.tls_available and not self.tls:
                caps.append("STLS")
        caps.append(f"IMPLEMENTATION {self.config.implementation}")
        return caps

    # --- the loop ---------------------------------------------------------------------------

    async def handle(self, line: bytes) -> Reply:
        """Answer one line from the client (a command, or a SASL continuation)."""
        if self.sasl_pending:
            return await self._sasl_continue(p.strip_line_end(line))
        try:
            command = p.parse_command(line)
        except p.CommandError as exc:
            return Reply([wire.err(str(exc))])
        now = _AT_ONCE.get(type(command))
        if now is not None:
            reply: Reply | None = now(self, command)
            if reply is not None:
                return reply
        handler = _WAITING[type(command)]
        reply = await handler(self, command)
        assert reply is not None
        return reply

    def handle_now(self, line: bytes) -> Reply | None:
        """Answer one line if that needs no waiting, else None: then the caller awaits :meth:`handle`.

        Most of a download session is answered here (RETR of a message in the page
        cache or read ahead, STAT, LIST, UIDL, DELE), without a task switch; logins,
        QUIT, SASL continuations and reads that could wait for the disk return None.
        """
        if self.sasl_pending:
            return None
        number = p.retr_number(line)  # the line a downloading client sends thousands of times
        if number is not None:
            return self._send_now(number, None)
        try:
            command = p.parse_command(line)
        except p.CommandError as exc:
            return Reply([wire.err(str(exc))])
        now = _AT_ONCE.get(type(command))
        return now(self, command) if now is not None else None

    def idle(self) -> None:
        """The server has sent every reply and waits for the client: do useful work ahead."""
        uid, self.last_sent = self.last_sent, None
        if uid is not None and self.maildrop is not None and self.state is State.TRANSACTION:
            try:
                self.maildrop.read_ahead(uid)
            except Exception:
                log.exception("pop3: read-ahead failed for %s", self.address)

    def line_too_long(self) -> Reply:
        if self.sasl_pending:
            self.sasl_pending = None
            return Reply([wire.err("SASL response too long", "AUTH")])
        return Reply([wire.err("line too long")])

    async def end(self) -> None:
        """The connection is over (QUIT, drop, timeout): write \\Seen marks, drop the lock."""
        if self._ended:
            return
        self._ended = True
        drop, self.maildrop = self.maildrop, None
        if drop is None:
            return
        try:
            if self.seen:
                await drop.mark_seen(sorted(self.seen))
        except Exception:
            log.exception("pop3: could not store \\Seen flags for %s", self.address)
        finally:
            await drop.release()

    # --- AUTHORIZATION ----------------------------------------------------------------------

    def _in_authorization(self) -> Reply | None:
        if self.state is not State.AUTHORIZATION:
            return Reply([wire.err("already authenticated")])
        return None

    def _cmd_capa(self, _: p.Capa) -> Reply:
        return Reply([wire.multiline(wire.ok("Capability list follows"), self.capabilities())])

    def _cmd_stls(self, _: p.Stls) -> Reply:
        if self.tls:
            return Reply([wire.err("TLS already active")])
        if self.state is not State.AUTHORIZATION:
            return Reply([wire.err("STLS only before login")])
        if not self.config.tls_available:
            return Reply([wire.err("TLS not available")])
        self.user = None
        return Reply([wire.ok("Begin TLS negotiation")], start_tls=True)

    def tls_started(self) -> None:
        """The server finished the TLS handshake: forget everything from before (RFC 2595)."""
        self.tls = True
        self.user = None
        self.sasl_pending = None

    def _cmd_user(self, cmd: p.User) -> Reply:
        if refusal := self._in_authorization():
            return refusal
        if not self.plaintext_allowed:
            return Reply([wire.err("Plaintext authentication disallowed without TLS; use STLS", "AUTH")])
        self.user = cmd.user
        return Reply([wire.ok("send PASS")])

    async def _cmd_pass(self, cmd: p.Pass) -> Reply:
        if refusal := self._in_authorization():
            return refusal
        if self.user is None:
            return Reply([wire.err("send USER first")])
        user, self.user = self.user, None
        return await self._login(user, cmd.password)

    async def _cmd_auth(self, cmd: p.Auth) -> Reply:
        if refusal := self._in_authorization():
            return refusal
        if cmd.mechanism is None:
            mechanisms = ["PLAIN"] if self.plaintext_allowed else []
            return Reply([wire.multiline(wire.ok("mechanisms follow"), mechanisms)])
        if cmd.mechanism != "PLAIN":
            return Reply([wire.err("unsupported mechanism")])
        if not self.plaintext_allowed:
            return Reply([wire.err("Plaintext authentication disallowed without TLS; use STLS", "AUTH")])
        if cmd.initial is None:
            self.sasl_pending = "PLAIN"
            return Reply([b"+ \r\n"])
        return await self._sasl_plain(cmd.initial)

    async def _sasl_continue(self, line: bytes) -> Reply:
        self.sasl_pending = None
        if line == b"*":
            return Reply([wire.err("authentication cancelled")])
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            return Reply([wire.err("invalid base64", "AUTH")])
        return await self._sasl_plain(text)

    async def _sasl_plain(self, b64: str) -> Reply:
        """RFC 4616: base64(authzid NUL authcid NUL passwd); "=" is the empty response."""
        try:
            decoded = base64.b64decode(b"" if b64 == "=" else b64.encode("ascii"), validate=True)
            authzid, authcid, password = decoded.decode("utf-8").split("\0")
        except (binascii.Error, UnicodeError, ValueError):
            return Reply([wire.err("malformed SASL PLAIN response", "AUTH")])
        if not authcid or (authzid and authzid.lower() != authcid.lower()):
            # Acting for another user (proxy authorization) is not offered.
            return await self._failed(authcid or "?", "authorization identity differs")
        return await self._login(authcid, password)

    async def _login(self, user: str, password: str) -> Reply:
        # The guard decides before any hash is computed (a database look-up: in a thread).
        verdict = await asyncio.to_thread(self.throttle.check, self.peer_ip, user)
        if not verdict.allowed:
            self.throttle.outcome("pop3", "refused")
            log.warning("pop3: login refused for %r from %s: too many failures", user[:100], self.peer_ip)
            return Reply([wire.err("too many failed logins, try again later", "AUTH")], close=True)
        try:
            address = await self.backend.authenticate(user, password) if user and password else None
        except LoginUnavailable as exc:  # a temporary failure, never a login, not a guess
            log.error("pop3: login of %r from %s not checked: %s", user[:100], self.peer_ip, exc)
            return Reply([wire.err("authentication service unavailable, try again later", "SYS/TEMP")])
        if address is None:
            return await self._failed(user, "bad credentials")
        self.throttle.outcome("pop3", "success")
        if verdict.failures:
            await asyncio.to_thread(self.throttle.succeeded, self.peer_ip, user, verdict)
        try:
            self.maildrop = await self.backend.open_maildrop(address)
        except MaildropInUse:
            log.info("pop3: %s from %s: maildrop in use", address, self.peer_ip)
            return Reply([wire.err("maildrop already locked by another POP3 session", "IN-USE")])
        except MaildropElsewhere as exc:
            log.info("pop3: %s from %s: %s", address, self.peer_ip, exc)
            return Reply([wire.err(str(exc), "SYS/TEMP")])
        except Exception:
            log.exception("pop3: could not open the maildrop of %s", address)
            return Reply([wire.err("cannot open maildrop, try again later", "SYS/TEMP")])
        self.address = address
        self.state = State.TRANSACTION
        count, octets = self._stat()
        log.info("pop3: login %s from %s (%d messages)", address, self.peer_ip, count)
        return Reply([wire.ok(f"Logged in, {count} messages ({octets} octets)")])

    async def _failed(self, user: str, why: str) -> Reply:
        self.auth_failures += 1
        delay = await asyncio.to_thread(self.throttle.failed, self.peer_ip, user, "pop3")
        log.warning("pop3: failed login for %r from %s: %s", user[:100], self.peer_ip, why)
        close = self.auth_failures >= self.throttle.policy.per_connection
        return Reply([wire.err("authentication failed", "AUTH")], close=close, delay=delay)

    # --- TRANSACTION ------------------------------------------------------------------------

    def _need_transaction(self) -> Reply | None:
        if self.state is not State.TRANSACTION or self.maildrop is None:
            return Reply([wire.err("not logged in")])
        return None

    def _message(self, number: int) -> DropMessage | None:
        """The message numbered ``number`` unless it does not exist or is marked deleted."""
        assert self.maildrop is not None
        messages = self.maildrop.messages
        if 1 <= number <= len(messages) and number not in self.deleted:
            return messages[number - 1]
        return None

    def _stat(self) -> tuple[int, int]:
        assert self.maildrop is not None
        live = [m for i, m in enumerate(self.maildrop.messages, 1) if i not in self.deleted]
        return len(live), sum(m.size for m in live)

    def _no_such(self, number: int) -> Reply:
        deleted = number in self.deleted
        return Reply([wire.err(f"message {number} already deleted" if deleted else "no such message")])

    def _cmd_stat(self, _: p.Stat) -> Reply:
        if refusal := self._need_transaction():
            return refusal
        count, octets = self._stat()
        return Reply([f"+OK {count} {octets}\r\n".encode()])

    def _cmd_list(self, cmd: p.List) -> Reply:
        return self._listing(cmd.msg, lambda m: str(m.size))

    def _cmd_uidl(self, cmd: p.Uidl) -> Reply:
        return self._listing(cmd.msg, lambda m: m.uidl)

    def _listing(self, number: int | None, value: Callable[[DropMessage], str]) -> Reply:
        if refusal := self._need_transaction():
            return refusal
        assert self.maildrop is not None
        if number is not None:
            message = self._message(number)
            if message is None:
                return self._no_such(number)
            return Reply([f"+OK {number} {value(message)}\r\n".encode()])
        deleted = self.deleted
        lines = [f"{i} {value(m)}\r\n" for i, m in enumerate(self.maildrop.messages, 1) if i not in deleted]
        return Reply([b"+OK\r\n", "".join(lines).encode(), b".\r\n"])

    def _retr_now(self, cmd: p.Retr) -> Reply | None:
        return self._send_now(cmd.msg, None)

    def _top_now(self, cmd: p.Top) -> Reply | None:
        return self._send_now(cmd.msg, cmd.lines)

    async def _cmd_retr(self, cmd: p.Retr) -> Reply:
        return await self._send(cmd.msg, None)

    async def _cmd_top(self, cmd: p.Top) -> Reply:
        return await self._send(cmd.msg, cmd.lines)

    def _send_now(self, number: int, lines: int | None) -> Reply | None:
        """RETR/TOP from what the maildrop has at hand; None when the message must be waited for."""
        drop = self.maildrop
        if self.state is not State.TRANSACTION or drop is None:
            return Reply([wire.err("not logged in")])
        messages = drop.messages
        if not 0 < number <= len(messages) or number in self.deleted:
            return self._no_such(number)
        message = messages[number - 1]
        try:
            crlf = drop.fetch_now(message)
        except MessageUnavailable:
            return Reply([wire.err("message was removed by another session", "SYS/PERM")])
        return None if crlf is None else self._sent(message, crlf, lines)

    async def _send(self, number: int, lines: int | None) -> Reply:
        if refusal := self._need_transaction():
            return refusal
        assert self.maildrop is not None
        message = self._message(number)
        if message is None:
            return self._no_such(number)
        try:
            crlf = await self.maildrop.fetch(message.uid)
        except MessageUnavailable:
            return Reply([wire.err("message was removed by another session", "SYS/PERM")])
        return self._sent(message, crlf, lines)

    def _sent(self, message: DropMessage, crlf: bytes, lines: int | None) -> Reply:
        """The reply to RETR or TOP: status line, dot-stuffed message and terminator as one buffer."""
        self.last_sent = message.uid
        if lines is not None:
            return Reply([wire.block(b"+OK\r\n", wire.top(crlf, lines))])
        self.seen.add(message.uid)
        return Reply([wire.block(b"+OK %d octets\r\n" % len(crlf), crlf)])

    def _cmd_dele(self, cmd: p.Dele) -> Reply:
        if refusal := self._need_transaction():
            return refusal
        if self._message(cmd.msg) is None:
            return self._no_such(cmd.msg)
        self.deleted.add(cmd.msg)
        return Reply([wire.ok(f"message {cmd.msg} deleted")])

    def _cmd_rset(self, _: p.Rset) -> Reply:
        if refusal := self._need_transaction():
            return refusal
        self.deleted.clear()
        count, octets = self._stat()
        return Reply([wire.ok(f"{count} messages ({octets} octets)")])

    def _cmd_noop(self, _: p.Noop) -> Reply:
        if refusal := self._need_transaction():
            return refusal
        return Reply([wire.ok()])

    async def _cmd_quit(self, _: p.Quit) -> Reply:
        if self.state is not State.TRANSACTION or self.maildrop is None:
            return Reply([wire.ok(f"{self.config.hostname} POP3 closing")], close=True)
        self.state = State.UPDATE
        messages = self.maildrop.messages
        uids = [messages[n - 1].uid for n in sorted(self.deleted)]
        self.seen.difference_update(uids)
        try:
            if uids:
                await self.maildrop.expunge(uids)
        except Exception:
            log.exception("pop3: expunge failed for %s", self.address)
            await self.end()
            return Reply([wire.err("some deleted messages not removed", "SYS/TEMP")], close=True)
        log.info("pop3: %s logged out, %d deleted", self.address, len(uids))
        left = len(messages) - len(uids)
        await self.end()
        return Reply([wire.ok(f"{self.config.hostname} POP3 closing ({left} messages left)")], close=True)


# Commands answered without waiting (None from RETR/TOP: the message must be read in a thread) ...
_AT_ONCE: dict[type[p.Command], Callable[[Session, Any], Reply | None]] = {
    p.User: Session._cmd_user, p.Stat: Session._cmd_stat, p.List: Session._cmd_list, p.Uidl: Session._cmd_uidl,
    p.Retr: Session._retr_now, p.Top: Session._top_now, p.Dele: Session._cmd_dele, p.Noop: Session._cmd_noop,
    p.Rset: Session._cmd_rset, p.Capa: Session._cmd_capa, p.Stls: Session._cmd_stls,
}  # fmt: skip
# ... and those that wait (password checks, the maildrop's lock, the expunge at QUIT, large reads).
_WAITING: dict[type[p.Command], Any] = {
    p.Pass: Session._cmd_pass, p.Auth: Session._cmd_auth, p.Quit: Session._cmd_quit, p.Retr: Session._cmd_retr,
    p.Top: Session._cmd_top,
}  # fmt: skip
