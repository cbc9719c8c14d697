"""The POP3 listeners: asyncio protocols, STLS and implicit TLS, line limits, timeouts.

This module moves bytes between sockets and :class:`~agents.pop3.session.Session`;
it holds no protocol rules beyond framing (lines of at most 255 octets, CRLF)
and no storage. Replies to pipelined commands (RFC 2449 PIPELINING) are written
in one batch per read (up to :data:`BATCH_BYTES`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

from agents import listeners, metrics, proxyprotocol
from agents.authcache import login_peer, login_via_proxy
from agents.evicting import evict_forever
from agents.loginguard import LoginGuard
from agents.peers import PeerLimits, is_loopback
from agents.proxyprotocol import TrustedProxies

from .parser import MAX_COMMAND_LINE, MAX_SASL_LINE
from .session import Backend, Reply, Session, SessionConfig

log = logging.getLogger("agents.pop3")

TLS_HANDSHAKE_TIMEOUT = 30.0
BATCH_BYTES = 256 * 1024  # replies to pipelined commands gathered into one write, up to this much
HOLD_BACK_BYTES = 4 * MAX_SASL_LINE  # unanswered input kept before the connection stops reading


@dataclass
class ServerConfig:
    hostname: str
    bind: str
    port: int | None  # plain port with STLS; None to skip
    tls_port: int | None  # implicit TLS; None to skip
    ssl_context: ssl.SSLContext | None
    idle_timeout: float = 600.0
    dev_mode: bool = False
    max_sessions_per_ip: int = 50
    max_commands: int = 1_000_000  # per connection; generous, a 20,000-message RETR run is 20,000
    bad_commands: int = 20  # consecutive errors before we hang up on a confused or hostile client
    processes: int = 1  # pop3 processes sharing the ports (agents.listeners); the per-IP limit is per process
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)  # PROXY headers believed from these


@dataclass
class Pop3Server:
    config: ServerConfig
    backend: Backend
    throttle: LoginGuard
    session_hook: Callable[[Session], None] | None = None  # tests peek at sessions
    # Cluster mode: of the given users, whose sessions must end now and why (a mailbox move froze or
    # switched them); asked every second (agents.evicting). Ended without QUIT, so no DELE applies.
    evictions: Callable[[list[str]], dict[str, str]] | None = None
    _servers: list[asyncio.Server] = field(default_factory=list)
    _peers: PeerLimits = field(init=False)  # sessions per client address (max_sessions_per_ip)
    _connections: set[_Connection] = field(default_factory=set)
    _evicting: asyncio.Task | None = None

    def __post_init__(self) -> None:
        self._peers = PeerLimits(self.config.max_sessions_per_ip)

    @property
    def ports(self) -> list[int]:
        """The bound ports, plain first (useful with port 0 in tests)."""
        return [s.sockets[0].getsockname()[1] for s in self._servers]

    async def start(self) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        reuse_port = listeners.server_options(cfg.processes).get("reuse_port", False)
        if cfg.port is not None:
            self._servers.append(
                await loop.create_server(
                    lambda: _Connection(self, False), cfg.bind, cfg.port, reuse_address=True, reuse_port=reuse_port
                )
            )
        if cfg.tls_port is not None:
            if cfg.ssl_context is None:
                raise ValueError("implicit TLS port needs an SSL context")
            self._servers.append(
                await loop.create_server(
                    lambda: _Connection(self, True),
                    cfg.bind,
                    cfg.tls_port,
                    ssl=cfg.ssl_context,
                    ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT,
                    reuse_address=True,
                    reuse_port=reuse_port,
                )
            )
        log.info("pop3: listening on %s ports %s", cfg.bind, self.ports)
        if self.evictions is not None:
            self._evicting = asyncio.get_running_loop().create_task(
                evict_forever(self.evictions, self._logged_in, _evict, log, "pop3"))

    def _logged_in(self) -> dict[_Connection, str]:
        return {c: c.session.address for c in self._connections if c.session is not None and c.session.address}

    async def stop(self, grace: float = 5.0) -> None:
        """Close the listeners, then end the open sessions (they release their locks)."""
        if self._evicting is not None:
            self._evicting.cancel()
        for server in self._servers:
            server.close()
        connections = list(self._connections)
        for connection in connections:
            connection.shut_down()
        finished = [c.finished for c in connections]
        if finished:
            await asyncio.wait(finished, timeout=grace)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        await asyncio.to_thread(metrics.stop)  # the sessions' last logins, before the database goes


def _evict(connection: _Connection, reason: str) -> None:
    connection.shut_down(f"-ERR [SYS/TEMP] {reason}\r\n".encode())


class _Connection(asyncio.Protocol):
    """One client: lines in, the session's replies out, on the event loop's callbacks.

    A command that needs no waiting (nearly all of a download: RETR of a message read
    ahead or small, STAT, LIST, UIDL, DELE) is answered right in :meth:`data_received`,
    without a task, a future or a stream buffer in between; that was most of a RETR's
    CPU. A command that must wait (a login, QUIT's expunge, a large read, the login
    delay, the TLS handshake) runs in a task, and the lines after it wait in the buffer,
    so replies keep the commands' order (RFC 2449 PIPELINING). While the socket's send
    buffer is full the connection answers nothing more and, once a command line's worth
    is waiting, stops reading: memory stays bounded whatever the client sends or fails to read.
    """

    def __init__(self, server: Pop3Server, implicit_tls: bool) -> None:
        self.server = server
        self.cfg = server.config
        self.implicit_tls = implicit_tls
        self.loop = asyncio.get_running_loop()
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.ip = "?"
        self.buffer = bytearray()  # received, not yet answered
        self.out: list[bytes] = []  # replies not yet written (pipelined commands: one write)
        self.out_size = 0
        self.discarding = False  # inside a line longer than the limit
        self.busy = False  # a task is answering a command; later lines wait
        self.write_paused = False
        self.read_paused = False
        self.closing = False  # no more commands are answered
        self.lost = False
        self.eof = False  # the client half-closed: close once everything pending is answered
        self.awaiting_proxy = False  # a trusted proxy's PROXY header comes before anything else
        self.relayed = False  # a trusted mail proxy relays this client (it ended the client's TLS)
        self.task: asyncio.Task[None] | None = None
        self.commands = 0
        self.errors = 0
        self.last = self.loop.time()  # of the last sign of life from the client
        self.timer: asyncio.TimerHandle | None = None

    # --- transport callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, not isinstance: uvloop's TLS transport is no subclass of asyncio.Transport
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.ip = str(peer[0])
        self.server._connections.add(self)
        if not self.implicit_tls and self.ip in self.cfg.trusted_proxies:
            # A trusted mail proxy: its PROXY header comes first and names the client (agents.proxyprotocol).
            self.awaiting_proxy = True
            self.timer = self.loop.call_later(proxyprotocol.HEADER_TIMEOUT, self._proxy_failed, "timeout")
            return
        self._begin()

    def _begin(self) -> None:
        """The client is known: count it, make its session, greet it."""
        transport, server, ip = self.transport, self.server, self.ip
        assert transport is not None
        if not server._peers.open_session(ip):
            transport.write(b"-ERR [SYS/TEMP] too many connections from your address\r\n")
            self._finish(None)
            return
        self.session = Session(
            config=SessionConfig(self.cfg.hostname, tls_available=self.cfg.ssl_context is not None,
                                 dev_mode=self.cfg.dev_mode),
            backend=server.backend,
            throttle=server.throttle,
            peer_ip=ip,
            peer_loopback=is_loopback(ip),
            tls=self.implicit_tls,
            relayed=self.relayed,
        )  # fmt: skip
        if server.session_hook:
            server.session_hook(self.session)
        self.timer = self.loop.call_later(self.cfg.idle_timeout, self._check_idle)
        transport.write(self.session.greeting())

    def _proxy_received(self) -> None:
        """Look for the proxy's header in what came so far; begin the session after it."""
        try:
            found = proxyprotocol.header_at_start(bytes(self.buffer))
        except proxyprotocol.ProxyHeaderError as exc:
            self._proxy_failed(str(exc))
            return
        if found is None:
            return
        header, length = found
        del self.buffer[:length]
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.awaiting_proxy = False
        self.relayed = True
        self.ip = header.source or self.ip
        self._begin()
        if self.buffer and not self.closing:  # commands sent right after the header
            self._answer_buffer()

    def _proxy_failed(self, why: str) -> None:
        if self.buffer or why != "closed":  # a port check that sent nothing is not worth a warning
            log.warning("pop3: connection from proxy %s closed: bad PROXY header (%s)", self.ip, why)
        self.timer = None
        self.lost = self.lost or why == "closed"
        self._finish(None)

    def data_received(self, data: bytes) -> None:
        self.last = self.loop.time()
        if self.closing:
            return
        if self.awaiting_proxy:
            self.buffer += data
            self._proxy_received()
            return
        if self.buffer or self.busy or self.write_paused:
            self.buffer += data
            if self.busy or self.write_paused:
                self._hold_back()
                return
            data = bytes(self.buffer)
            self.buffer.clear()
        self._answer_lines(data)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.last = self.loop.time()  # the client is reading: it is alive
        if not self.busy and not self.closing:
            self._answer_buffer()

    def eof_received(self) -> bool | None:
        if self.awaiting_proxy:
            self._proxy_failed("closed")
            return None
        # The client sent all it will (a script's half-close): answer what is still pending,
        # a QUIT among it, then close. True keeps the transport open for those replies.
        self.eof = True
        if not self.busy and not self.write_paused and b"\n" not in self.buffer:
            self._finish(None)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.awaiting_proxy:
            self._proxy_failed("closed")
            return
        if exc is not None:
            log.debug("pop3: connection from %s lost: %s", self.ip, exc)
        if self.task is None or self.task.done():
            self._finish(None)
        # else the task finishes its command (a QUIT's expunge completes), then ends the session

    # --- answering -----------------------------------------------------------------------------

    def _answer_lines(self, data: bytes) -> None:
        """Answer every complete line in ``data`` that can be; keep the rest in the buffer."""
        session = self.session
        if session is None:
            return
        pos = 0
        try:
            while True:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    break
                line = data[pos : nl + 1]
                pos = nl + 1
                if self.discarding or (len(line) > MAX_COMMAND_LINE and len(line) > session.max_line):
                    self.discarding = False
                    reply = session.line_too_long()
                else:
                    self.commands += 1
                    if self.commands > self.cfg.max_commands:
                        self._finish(b"-ERR too many commands\r\n")
                        return
                    now = session.handle_now(line)
                    if now is None:  # it must wait: a task answers it, the lines after it wait
                        self._flush()
                        self.buffer += data[pos:]
                        self._run(self._answer_later(line))
                        return
                    reply = now
                if not self._queue(reply):
                    return
                if self.out_size > BATCH_BYTES:
                    self._flush()
                    if self.write_paused:  # the client is not reading: answer the rest later
                        self.buffer += data[pos:]
                        self._hold_back()
                        return
        except Exception:
            log.exception("pop3: session from %s failed", self.ip)
            self._finish(None)
            return
        self._flush()
        rest = data[pos:] if pos else data
        if self.discarding or len(rest) > session.max_line:
            # A line longer than the limit: drop it as it comes, answer once its end arrives.
            self.discarding = True
            rest = b""
        if rest:
            self.buffer += rest
        if self.eof:
            self._finish(None)
            return
        self._idle()

    def _answer_buffer(self) -> None:
        data = bytes(self.buffer)
        self.buffer.clear()
        if self.read_paused and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()
        self._answer_lines(data)

    def _queue(self, reply: Reply) -> bool:
        """Queue ``reply`` and act on its flags; False once the connection closes or switches to TLS."""
        data = reply.data
        for chunk in data:
            self.out.append(chunk)
            self.out_size += len(chunk)
        self.errors = self.errors + 1 if data and data[0].startswith(b"-ERR") else 0
        if self.errors >= self.cfg.bad_commands:
            self._finish(b"-ERR too many errors, closing\r\n")
            return False
        if reply.close:
            self._finish(None)
            return False
        if reply.start_tls:
            self._flush()
            # Anything the client pipelined after STLS was sent in clear text and could be
            # injected by a man in the middle: it is thrown away, never executed (RFC 2595).
            self.buffer.clear()
            assert self.transport is not None
            self.transport.pause_reading()
            self._run(self._start_tls())
            return False
        return True

    def _flush(self) -> None:
        out = self.out
        if not out:
            return
        self.out = []
        self.out_size = 0
        if self.lost or self.transport is None:
            return
        if len(out) == 1:
            self.transport.write(out[0])
        else:
            self.transport.writelines(out)

    def _hold_back(self) -> None:
        """Stop reading while a command waits and more than a command line is buffered."""
        if not self.read_paused and len(self.buffer) > HOLD_BACK_BYTES and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def _idle(self) -> None:
        """Every line is answered: let the session prepare for the next command (read ahead)."""
        if not self.busy and not self.closing and self.session is not None:
            self.session.idle()

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        self.busy = True
        self.task = self.loop.create_task(work)

    async def _answer_later(self, line: bytes) -> None:
        session = self.session
        assert session is not None
        login_peer.set(self.ip)  # this task's context only: an app password's last use records it
        login_via_proxy.set(self.relayed)  # only then may PASS carry the proxy's one-time token
        try:
            reply = await session.handle(line)
            if reply.delay and not self.lost:
                await asyncio.sleep(reply.delay)
        except asyncio.CancelledError:
            return  # shut down: shut_down() ends the session
        except Exception:
            log.exception("pop3: session from %s failed", self.ip)
            self._finish(None)
            return
        self.busy = False
        if self.lost or self.closing:
            self._finish(None)
            return
        if self._queue(reply):
            self._flush()
            if not self.write_paused:
                self._answer_buffer()

    async def _start_tls(self) -> None:
        assert self.cfg.ssl_context is not None and self.transport is not None
        try:
            transport = await self.loop.start_tls(
                self.transport, self, self.cfg.ssl_context, server_side=True,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT,
            )  # fmt: skip
        except asyncio.CancelledError:
            return
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError) as exc:
            log.debug("pop3: STLS with %s failed: %s", self.ip, exc)
            self.lost = True
            self._finish(None)
            return
        if transport is None:  # the connection went away during the handshake
            self.lost = True
            self._finish(None)
            return
        self.transport = transport
        assert self.session is not None
        self.session.tls_started()
        self.busy = False
        if not self.closing:
            self._answer_buffer()

    # --- the end -------------------------------------------------------------------------------

    def _check_idle(self) -> None:
        remaining = self.last + self.cfg.idle_timeout - self.loop.time()
        if remaining > 0:
            self.timer = self.loop.call_later(remaining, self._check_idle)
            return
        self.timer = None
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self._finish(b"-ERR [SYS/TEMP] idle timeout, closing\r\n")

    def shut_down(self, why: bytes = b"-ERR [SYS/TEMP] server shutting down\r\n") -> None:
        """Server shutdown (or the mailbox moving away): tell the client, end the session (its locks
        go; without a QUIT no DELE applies), close."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self._finish(why)

    def _finish(self, last_words: bytes | None) -> None:
        """End the connection once: say ``last_words``, end the session, then close the socket.

        The session ends before the socket closes, so a client that sees the end
        can log in again at once without finding its maildrop still locked.
        """
        if self.closing:
            return
        self.closing = True
        self.busy = True  # nothing more is answered
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if last_words:
            self.out.append(last_words)
        try:
            self._flush()
        except Exception:
            pass
        self.buffer.clear()
        if self.session is not None:
            self.server._peers.close_session(self.ip)
        self.loop.create_task(self._end())

    async def _end(self) -> None:
        try:
            if self.session is not None:
                await self.session.end()
        except Exception:
            log.exception("pop3: ending the session from %s failed", self.ip)
        finally:
            if self.transport is not None:
                self.transport.close()
            self.server._connections.discard(self)
            if not self.finished.done():
                self.finished.set_result(None)
