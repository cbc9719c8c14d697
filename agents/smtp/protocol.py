"""The one subclass of aiosmtpd's ``SMTP``, for what its hooks cannot do.

Each override is small and says which capability aiosmtpd lacks.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import re
from collections.abc import Callable, Coroutine
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from typing import Any, AnyStr, cast

import aiosmtpd.smtp
from aiosmtpd.smtp import MISSING, SMTP, _AuthMechAttr, syntax

from agents.peers import PeerLimits, is_loopback
from agents.proxyprotocol import HEADER_TIMEOUT, TrustedProxies

from . import data, replies, xclient
from .policy import Listener

log = logging.getLogger(__name__)


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_SIMPLE_PATH = re.compile(rf"\s*<({_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*)>[ \t]*([^(\s].*|)\Z", re.S)


_NAMES: dict[type, list[str]] = {}


def _protocol_names(cls: type) -> list[str]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = sorted(n for n in dir(cls) if n.startswith(("smtp_", "auth_")))
    return names


_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_aiosmtpd_sanitized_log = aiosmtpd.smtp.sanitized_log


def _sanitized_log(func: Callable[..., None], msg: Any, *args: Any, **kwargs: Any) -> None:
    """aiosmtpd's ``sanitized_log`` (which its command loop calls twice per command line) masks
    AUTH secrets in every argument before the logger is asked whether it will log at all: a list
    built and dropped for each command, at the default level. The same call, asked first."""
    logger = getattr(func, "__self__", None)
    level = _LOG_LEVELS.get(getattr(func, "__name__", ""))
    if level is not None and isinstance(logger, logging.Logger) and not logger.isEnabledFor(level):
        return
    _aiosmtpd_sanitized_log(func, msg, *args, **kwargs)


aiosmtpd.smtp.sanitized_log = _sanitized_log  # looked up as a module global by SMTP._handle_client


# Replies that are the same for every session, enhanced and encoded once (not arbitrary texts:
# those that name a queue id or an address are built each time).
_ENCODED: dict[tuple[str, bool], bytes] = {}


# A command line longer than the line limit gets aiosmtpd's 500 and is skipped, as Postfix
# skips the rest of an overlong line; one still without LF after this many octets ends the
# connection instead, so that skipping never means reading without bound.
MAX_COMMAND_SKIP = 64 * 1024


# aiosmtpd's own refusals (before any handler hook) that are policy, not protocol errors:
# recorded as refusals like the handler's (agents.queue.refusals).
_OWN_REFUSALS = {
    "552 Error: Too much mail data": "DATA",
    "552 Error: message size exceeds fixed maximum message size": "MAIL",
}


# Attributes aiosmtpd's __init__ sets that belong to one connection: rebuilt for each.
_PER_CONNECTION = frozenset({"_auth_methods", "_smtp_methods"})


@dataclasses.dataclass(frozen=True, slots=True)
class EhloReply:
    """One EHLO reply of a listener in one session state (see ``MailSMTP.smtp_EHLO``): the
    keyword lines aiosmtpd offers the handler's hook, what the hook made of them, and those
    lines as they go out (each as ``push`` would enhance and encode it, joined by CR LF)."""

    offered: tuple[str, ...]
    lines: list[str]
    octets: bytes


class SessionTemplate:
    """What aiosmtpd's ``SMTP.__init__`` works out for every connection of one listener, worked
    out once. Its ``__init__`` walks the handler and the session class for hooks
    (``inspect.getmembers``, ``dir``), asks ``inspect.signature`` of the EHLO hook, checks the TLS
    context and formats a log line, the same each time: a fifth of the agent's CPU for a
    one-message connection. The first connection of a listener runs it and the result is kept
    (:meth:`capture`); the next ones copy it and bind only their own methods (:meth:`apply`).
    ``tests/smtp/test_session_template.py`` compares both ways, attribute by attribute."""

    def __init__(self) -> None:
        self.shared: dict[str, Any] | None = None
        self.ehlo: dict[tuple[Any, ...], EhloReply] = {}  # the listener's EHLO replies (MailSMTP.smtp_EHLO)
        self._stream_keys: frozenset[str] = frozenset()
        self._smtp_names: list[tuple[str, str]] = []
        self._auth: list[tuple[str, str, bool]] = []  # (mechanism, attribute, built in)

    def capture(self, session: MailSMTP, before: set[str]) -> None:
        loop = session.loop
        probe = asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), lambda r, w: None, loop=loop)
        self._stream_keys = frozenset(probe.__dict__)
        self.shared = {k: v for k, v in session.__dict__.items()
                       if k not in before and k not in self._stream_keys and k not in _PER_CONNECTION}
        self._smtp_names = [(name, "smtp_" + name) for name in session._smtp_methods]
        self._auth = [(mechanism, impl.method.__name__, impl.is_builtin)
                      for mechanism, impl in session._auth_methods.items()]

    def apply(self, session: MailSMTP, handler: Any) -> None:
        assert self.shared is not None
        loop = self.shared["loop"]
        asyncio.StreamReaderProtocol.__init__(
            session, asyncio.StreamReader(loop=loop, limit=session.line_length_limit),
            client_connected_cb=session._cb_client_connected, loop=loop)
        session.__dict__.update(self.shared)
        session._smtp_methods = {name: getattr(session, attribute) for name, attribute in self._smtp_names}
        session._auth_methods = {
            mechanism: _AuthMechAttr(getattr(session if builtin else handler, attribute), builtin)
            for mechanism, attribute, builtin in self._auth
        }


class MailSMTP(SMTP):
    def __init__(
        self,
        handler: Any,
        *,
        listener: Listener,
        limits: PeerLimits,
        dev_mode: bool,
        max_line: int,
        max_recipients: int = 100,
        max_rcpt_commands: int = 1000,
        on_refused: Callable[[], None] = lambda: None,
        trusted_proxies: TrustedProxies | None = None,
        template: SessionTemplate | None = None,
        **kwargs: Any,
    ) -> None:
        """``template``: one per listener (the same handler and options for each connection),
        shared by its connections; None runs aiosmtpd's set-up in full."""
        # aiosmtpd sizes its StreamReader from the class attribute ``line_length_limit``
        # (1001) inside ``__init__``; an instance value set first makes it configurable.
        self.line_length_limit = max(max_line, 1001)
        self.listener = listener
        self.limits = limits
        self.dev_mode = dev_mode
        self.on_refused = on_refused
        self._counted_ip: str | None = None
        self._refused = False
        self.trusted_proxies = trusted_proxies or TrustedProxies()
        self.via_proxy = False  # the socket's peer is a trusted mail proxy (PROXY header, XCLIENT)
        self.max_recipients = max_recipients
        self.max_rcpt_commands = max_rcpt_commands
        self._rcpt_commands = 0
        # Octets since the last LF, and whether they belong to DATA (see data_received).
        self._line_run = 0
        self._in_data = False
        self._corked: list[bytes] | None = None  # replies held back to go out in one write (EHLO)
        # EHLO replies by session state: the listener's (one template per listener), else this connection's.
        self._ehlo_replies: dict[tuple[Any, ...], EhloReply] = template.ehlo if template is not None else {}
        self._idle_deadline = 0.0  # loop time after which an idle session is closed (_reset_timeout)
        # aiosmtpd keeps the per-command line limits in one class-wide dict that every EHLO raises
        # and every new connection clears (aio-libs/aiosmtpd#56): one session's EHLO lengthened
        # another's MAIL lines, a newcomer shortened them again mid-session, and EHLO after EHLO
        # raised them without bound. Each session has its own (set before aiosmtpd's __init__,
        # whose clear() then empties this one, and kept out of the listener's shared template).
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        if template is not None and template.shared is not None:
            template.apply(self, handler)
        else:
            before = set(self.__dict__)
            super().__init__(handler, **kwargs)
            if template is not None:
                template.capture(self, before)
        self.max_data_line = max(self.data_size_limit or 0, self.line_length_limit)
        self.max_command_line = max(MAX_COMMAND_SKIP, self.line_length_limit)

    def __dir__(self) -> list[str]:
        """Only the ``smtp_*`` and ``auth_*`` names: aiosmtpd's ``__init__`` walks ``dir(self)``
        and ``inspect.getmembers(self)`` for them on every connection, and walking all ~150
        attributes was a tenth of the agent's CPU under load."""
        return _protocol_names(type(self))

    def connection_made(self, transport: Any) -> None:
        """Per-connection decisions aiosmtpd has no hook for (it fixes them per server):

        - sessions per client IP (``421 4.7.0`` and close, like Postfix's anvil);
        - AUTH without TLS and submission without STARTTLS only for a loopback
          client in dev mode; on the implicit-TLS port TLS is already up, but
          aiosmtpd only knows STARTTLS, so AUTH must not wait for it there.
        """
        if self._original_transport is not None:  # the same client, after STARTTLS
            super().connection_made(transport)
            return
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self.listener.implicit_tls and ip in self.trusted_proxies:
            # A trusted mail proxy (agents.proxyprotocol): aiosmtpd reads its PROXY header before the
            # greeting (handler.handle_PROXY), XCLIENT may follow. It ended the client's TLS, its link
            # to us is the operator's network, and it keeps its own per-client limits: no slot counted.
            self.via_proxy = True
            self._proxy_timeout = HEADER_TIMEOUT
            self._auth_require_tls = False
            self.require_starttls = False
            super().connection_made(transport)
            return
        if not self.limits.open_session(ip):
            self._refused = True
            self.on_refused()
            reply = replies.too_many_sessions(self.hostname, ip)
            transport.write(reply.encode("ascii", "replace") + b"\r\n")
            transport.close()
            return
        self._counted_ip = ip
        relaxed = self.dev_mode and is_loopback(ip)
        self._auth_require_tls = not (self.listener.implicit_tls or relaxed)
        self.require_starttls = bool(self.tls_context) and self.listener.starttls_required and not relaxed
        super().connection_made(transport)

    def _release_slot(self) -> None:
        if self._counted_ip is not None:
            self.limits.close_session(self._counted_ip)
            self._counted_ip = None

    def connection_lost(self, error: Exception | None) -> None:
        """Give the session slot back; a refused connection never started aiosmtpd's machinery."""
        self._release_slot()
        if self._refused:
            return
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        """The client has closed its side: its slot is free now. A client that sends QUIT,
        closes and connects again at once (smtp-source, many MTAs) must find it free, and
        ``connection_lost`` comes a loop turn later, after the new connection was accepted:
        at the per-IP limit half of such reconnections got ``421``."""
        self._release_slot()
        return super().eof_received()

    async def smtp_XCLIENT(self, arg: str) -> None:
        """Postfix's XCLIENT, which aiosmtpd lacks, from a trusted mail proxy only (agents.smtp.xclient):
        the client's address and the login the proxy's auth_http endpoint checked; then a new greeting,
        and the session starts over from EHLO as the client."""
        assert self.session is not None
        if not self.via_proxy:
            await self.push("550 5.7.0 XCLIENT: insufficient authorization")
            return
        try:
            given = xclient.parse(arg or "")
        except xclient.XclientError as exc:
            await self.push(f"501 5.5.4 {exc}")
            return
        if given.addr is not None:
            self.session.peer = (given.addr, given.port)  # type: ignore[assignment]  # aiosmtpd keeps the peername tuple there
        if given.login:
            self.session.authenticated = True
            self.session.auth_data = given.login  # type: ignore[assignment]
        self._set_rset_state()
        self.session.host_name = None
        self.session.extended_smtp = False
        await self.push(f"220 {self.hostname} {self.__ident__}")

    async def smtp_QUIT(self, arg: str) -> None:
        """The slot is given back before the ``221``: a client that reads it and connects again
        must not find its old session still counted."""
        if not arg:
            self._release_slot()
        await super().smtp_QUIT(arg)

    def data_received(self, data: bytes) -> None:
        """Bound every line (aiosmtpd reads an overlong one to its end, however long, before
        answering): a command line still without LF after ``max_command_line`` octets gets
        ``500 5.5.2`` and the connection is closed; a DATA line longer than the whole
        message may be gets ``552 5.3.4`` and the same."""
        # uvloop's transports are not asyncio.WriteTransport subclasses: no isinstance here.
        transport = cast(asyncio.WriteTransport, self.transport)
        if self._refused or transport is None or transport.is_closing():
            return
        newline = data.rfind(b"\n")
        self._line_run = len(data) - newline - 1 if newline >= 0 else self._line_run + len(data)
        limit = self.max_data_line if self._in_data else self.max_command_line
        if self._line_run > limit:
            reply = replies.MESSAGE_TOO_BIG if self._in_data else replies.COMMAND_LINE_TOO_LONG
            log.warning("%s: line of over %d octets without LF, closing", self._counted_ip, limit)
            transport.write(reply.encode() + b"\r\n")
            transport.close()
            return
        super().data_received(data)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd reads DATA a line at a time (an ``await readuntil`` and a list append per
        line: a fifth of the agent's CPU per 4 KiB message); this takes the body in a few
        reads of everything up to the next ``.<CR><LF>`` (:func:`data.read_body`) and undoes
        dot-stuffing with one replace. Replies, limits and their order are aiosmtpd's."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        self._in_data = True
        try:
            body, state = await data.read_body(self._reader, self.data_size_limit, self.line_length_limit)
        except asyncio.CancelledError:  # the connection went away during DATA
            self._writer.close()
            raise
        finally:
            self._in_data = False
        if body is None:  # end of stream before the final dot
            return
        if state is not data.NOMINAL:
            await self.push(state)
            self._set_post_data_state()
            return
        self.envelope.original_content = self.envelope.content = data.unstuff(body)
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        """aiosmtpd answers 220 to a STARTTLS inside TLS (implicit TLS on 465, or a second
        STARTTLS) and then fails in the handshake with a traceback; RFC 3207 section 4
        forbids a second TLS negotiation, and Postfix answers it with 5.5.1."""
        if self._tls_protocol is not None or self.listener.implicit_tls:
            await self.push(replies.TLS_ALREADY_ACTIVE)
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        """aiosmtpd counts every RCPT toward ``command_call_limit`` and at the limit answers
        421 and closes, losing the transaction already accepted: 10,000 pipelined RCPTs
        did that. RCPT is left out of its count (``server.py``) and counted here instead,
        except those sent once the transaction is full, which keep getting ``452 4.5.3``."""
        envelope = self.envelope
        if envelope is None or len(envelope.rcpt_tos) < self.max_recipients:
            self._rcpt_commands += 1
            if self._rcpt_commands > self.max_rcpt_commands:
                await self.push("421 4.7.0 RCPT sent too many times")
                if self.transport is not None:
                    self.transport.close()
                return
        await super().smtp_RCPT(arg)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd 1.4.6 defines a ``typing.Protocol`` class inside ``_getaddr`` on every
        call: a quarter of the agent's CPU under load went into building that class for
        each MAIL and RCPT. Same parsing, same results, without it."""
        if not arg:
            return "", ""
        simple = _SIMPLE_PATH.match(arg)
        if simple:  # the everyday <local@domain> form: what the full parser would return
            return simple.group(1), simple.group(2)
        address: Any
        try:
            if arg.lstrip().startswith("<"):
                address, rest = get_angle_addr(arg)
            else:
                address, rest = get_addr_spec(arg)
        except HeaderParseError:
            return None, None
        addr = address.addr_spec
        if self.local_part_limit and len(addr.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return addr, rest

    async def push(self, status: AnyStr) -> None:
        """aiosmtpd's stock replies lack enhanced status codes (RFC 2034); add them here,
        the one place every reply passes through.

        The reply is written to the transport at once; aiosmtpd's ``drain()`` after each one is
        awaited only when it could wait or raise (the transport's buffer is full, or the
        connection is going or gone): otherwise it returns at once, after costing a coroutine
        and a loop check per reply, seven replies per message."""
        if isinstance(status, str):
            key = (status, self.enable_SMTPUTF8)
            response = _ENCODED.get(key)
            if response is None:
                text = replies.enhance(status)
                command = _OWN_REFUSALS.get(status)
                record = getattr(self.event_handler, "record_refusal", None)
                if command and record is not None:  # aiosmtpd's own size refusals never reach a hook
                    record(self, self.session, self.envelope, command, text)
                response = text.encode("utf-8" if self.enable_SMTPUTF8 else "ascii")
                if status in replies.FIXED and not command:
                    _ENCODED[key] = response
        else:
            response = status
        if self._corked is not None:
            self._corked.append(response)
            return
        # asyncio's FlowControlMixin state: writing paused (buffer full), or the connection lost.
        transport = cast(asyncio.WriteTransport | None, self.transport)
        flow = cast(Any, self)
        if (transport is None or flow._paused or flow._connection_lost or transport.is_closing()
                or self._reader.exception() is not None):
            await super().push(response)
            return
        transport.write(response + b"\r\n")

    def _reset_timeout(self, duration: float | None = None) -> None:
        """aiosmtpd cancels its idle timer and makes a new one for every command (six per
        message). Here the deadline moves and the timer stays: when it fires before the
        deadline it sets itself again for the rest, so a session idle for the timeout is still
        closed then, and a busy one pays a float store per command."""
        deadline = self.loop.time() + (duration or self._timeout_duration)
        handle = self._timeout_handle
        if handle is not None and not handle.cancelled() and self._idle_deadline and handle.when() <= deadline:
            self._idle_deadline = deadline
            return
        if handle is not None:
            handle.cancel()
        self._idle_deadline = deadline
        self._timeout_handle = self.loop.call_at(deadline, self._idle_check)

    def _idle_check(self) -> None:
        if self.loop.time() < self._idle_deadline:
            self._timeout_handle = self.loop.call_at(self._idle_deadline, self._idle_check)
            return
        self._idle_deadline = 0.0  # fired: the next _reset_timeout arms a new timer
        self._timeout_cb()

    async def smtp_EHLO(self, hostname: str) -> None:
        """aiosmtpd's EHLO, with the reply built once per listener and session state.

        aiosmtpd builds the keyword lines for every EHLO, hands them to the handler's hook and
        pushes each line on its own (enhanced and encoded in ``push``: eight pushes, where HELO
        makes one). The lines depend only on what the key below holds: the name, SIZE, 8BITMIME,
        SMTPUTF8, STARTTLS (a TLS context and no TLS yet), AUTH (TLS up, or not required: implicit
        TLS, loopback in dev mode, a trusted proxy); the AUTH mechanisms are the listener's, the
        same for each of its connections. The hook still runs for every EHLO (it records the
        client's name, and its answer may vary): its answer is sent from the cache only when it
        is, line for line, the one the cached octets were made from. What else aiosmtpd's EHLO
        does is done here too, in its order: ``501`` without a name, the transaction reset, ESMTP
        noted, the MAIL line limit raised for SIZE and SMTPUTF8. The reply goes out in one write.
        ``tests/smtp/test_ehlo_reply_bytes.py`` compares the octets with aiosmtpd's own EHLO."""
        if not hostname or self._ehlo_hook_ver != "new" or hasattr(self, "ehlo_hook"):
            await self._ehlo_line_by_line(hostname)
            return
        session = self.session
        assert session is not None
        tls = self._tls_protocol is not None
        state = (self.hostname, self.data_size_limit, self._decode_data, self.enable_SMTPUTF8,
                 bool(self.tls_context) and not tls, not self._auth_require_tls or tls)
        cached = self._ehlo_replies.get(state)
        offered = cached.offered if cached is not None else self._ehlo_offer()
        self._set_rset_state()
        session.extended_smtp = True
        # RFC 1870 (SIZE=) and RFC 6531 (SMTPUTF8) lengthen a MAIL line; set, not added, as
        # aiosmtpd does, so that EHLO after EHLO does not grow it.
        self.command_size_limits["MAIL"] = (self.command_size_limit + (26 if self.data_size_limit else 0)
                                            + (10 if self.enable_SMTPUTF8 else 0))
        lines = await self._call_handler_hook("EHLO", hostname, list(offered))
        if cached is None or lines != cached.lines:
            if not all(isinstance(line, str) and line not in _OWN_REFUSALS for line in lines):
                await self._push_corked(lines)  # not a plain list of reply lines: as aiosmtpd would
                return
            encoding = "utf-8" if self.enable_SMTPUTF8 else "ascii"
            octets = b"\r\n".join(replies.enhance(line).encode(encoding) for line in lines)
            cached = EhloReply(offered, list(lines), octets)
            if len(self._ehlo_replies) < 16:  # a hook whose answer varies must not grow it without bound
                self._ehlo_replies[state] = cached
        if cached.lines:
            await self.push(cached.octets)

    def _ehlo_offer(self) -> tuple[str, ...]:
        """The lines aiosmtpd's ``smtp_EHLO`` gives the (five-argument) hook, in its order."""
        offer = ["250-" + self.hostname]
        if self.data_size_limit:
            offer.append(f"250-SIZE {self.data_size_limit}")
        if not self._decode_data:
            offer.append("250-8BITMIME")
        if self.enable_SMTPUTF8:
            offer.append("250-SMTPUTF8")
        if self.tls_context and not self._tls_protocol:
            offer.append("250-STARTTLS")
        if not self._auth_require_tls or self._tls_protocol:
            offer.append("250-AUTH " + " ".join(sorted(self._auth_methods.keys())))
        offer.append("250 HELP")
        return tuple(offer)

    async def _ehlo_line_by_line(self, hostname: str) -> None:
        """aiosmtpd's EHLO as it is (the 501, an old-style hook): its lines corked into one write."""
        await self._in_one_write(super().smtp_EHLO(hostname))

    async def _push_corked(self, lines: list[Any]) -> None:
        await self._in_one_write(self._push_each(lines))

    async def _push_each(self, lines: list[Any]) -> None:
        for line in lines:
            await self.push(line)

    async def _in_one_write(self, pushing: Coroutine[Any, Any, None]) -> None:
        """Run ``pushing`` with every ``push`` held back (``_corked``), then send them in one write."""
        self._corked = []
        try:
            await pushing
        finally:
            lines, self._corked = self._corked, None
        if lines:
            self._writer.write(b"\r\n".join(lines) + b"\r\n")
            await self._writer.drain()
