"""The POP3 listeners: asyncio streams, STLS and implicit TLS, line limits, timeouts.

This module moves bytes between sockets and :class:`~agents.pop3.session.Session`;
it holds no protocol rules beyond framing (lines of at most 255 octets, CRLF)
and no storage. Replies to pipelined commands (RFC 2449 PIPELINING) are written
in one batch and drained once per read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from agents import listeners, proxyprotocol
from agents.authcache import login_peer, login_via_proxy
from agents.loginguard import LoginGuard
from agents.proxyprotocol import TrustedProxies

from .session import Backend, Session, SessionConfig

log = logging.getLogger("agents.pop3")

READ_CHUNK = 64 * 1024
TLS_HANDSHAKE_TIMEOUT = 30.0


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


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class LineTooLong(Exception):
    pass


class _Watchdog:
    """Cancels a connection's task once nothing arrived from the client for ``timeout`` seconds.

    One timer per connection, re-armed only when it fires: a command costs a clock
    read instead of a timer set and cancelled per read (which showed in profiles).
    A client that stops reading our replies is caught too, since it sends nothing.
    """

    def __init__(self, timeout: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.timeout = timeout
        self.last = self.loop.time()
        self.fired = False
        self._handle = self.loop.call_later(timeout, self._check)

    def touch(self) -> None:
        self.last = self.loop.time()

    def _check(self) -> None:
        remaining = self.last + self.timeout - self.loop.time()
        if remaining > 0:
            self._handle = self.loop.call_later(remaining, self._check)
            return
        self.fired = True
        if self.task is not None:
            self.task.cancel()

    def stop(self) -> None:
        self._handle.cancel()


class _LineReader:
    """Reads lines (ending in LF) of bounded length from a stream.

    A line longer than the limit is consumed and reported as :class:`LineTooLong`,
    so a flood without line ends costs bounded memory and never hangs the session.
    """

    def __init__(self, reader: asyncio.StreamReader, watchdog: _Watchdog) -> None:
        self.reader = reader
        self.watchdog = watchdog
        self.buffer = bytearray()
        self.discarding = False

    def has_line(self) -> bool:
        return b"\n" in self.buffer

    def discard_buffer(self) -> None:
        self.buffer.clear()

    async def readline(self, limit: int) -> bytes | None:
        """The next line with its line end, or None at end of stream; raises LineTooLong."""
        while True:
            nl = self.buffer.find(b"\n")
            if nl >= 0:
                line = bytes(self.buffer[: nl + 1])
                del self.buffer[: nl + 1]
                if self.discarding:
                    self.discarding = False
                    raise LineTooLong
                if len(line) > limit:
                    raise LineTooLong
                return line
            if len(self.buffer) > limit:
                self.buffer.clear()
                self.discarding = True
            chunk = await self.reader.read(READ_CHUNK)
            self.watchdog.touch()
            if not chunk:
                return None
            self.buffer += chunk


@dataclass
class Pop3Server:
    config: ServerConfig
    backend: Backend
    throttle: LoginGuard
    session_hook: Callable[[Session], None] | None = None  # tests peek at sessions
    _servers: list[asyncio.Server] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _per_ip: dict[str, int] = field(default_factory=dict)

    @property
    def ports(self) -> list[int]:
        """The bound ports, plain first (useful with port 0 in tests)."""
        return [s.sockets[0].getsockname()[1] for s in self._servers]

    async def start(self) -> None:
        cfg = self.config
        if cfg.port is not None:
            self._servers.append(
                await asyncio.start_server(
                    lambda r, w: self._accept(r, w, False), cfg.bind, cfg.port, reuse_address=True,
                    **listeners.server_options(cfg.processes),
                )
            )
        if cfg.tls_port is not None:
            if cfg.ssl_context is None:
                raise ValueError("implicit TLS port needs an SSL context")
            self._servers.append(
                await asyncio.start_server(
                    lambda r, w: self._accept(r, w, True),
                    cfg.bind,
                    cfg.tls_port,
                    ssl=cfg.ssl_context,
                    ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT,
                    reuse_address=True,
                    **listeners.server_options(cfg.processes),
                )
            )
        log.info("pop3: listening on %s ports %s", cfg.bind, self.ports)

    async def stop(self, grace: float = 5.0) -> None:
        """Close the listeners, then end the open sessions (they release their locks)."""
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        self._servers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, implicit_tls: bool) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await self._connection(reader, writer, implicit_tls)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, implicit_tls: bool) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        ip = str(peer[0])
        cfg = self.config
        relayed = False  # a trusted mail proxy relays this client (agents.proxyprotocol)
        if not implicit_tls and cfg.trusted_proxies:
            try:
                ip, relayed = await proxyprotocol.client_address(reader, ip, cfg.trusted_proxies)
            except (proxyprotocol.ProxyHeaderError, TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
                if not proxyprotocol.quiet(exc):
                    log.warning("pop3: connection from proxy %s closed: bad PROXY header (%s)", ip, exc)
                await _close(writer)
                return
        login_peer.set(ip)  # this connection's task only: an app password's last use records it
        login_via_proxy.set(relayed)  # only then may PASS carry the proxy's one-time token
        if self._per_ip.get(ip, 0) >= cfg.max_sessions_per_ip:
            writer.write(b"-ERR [SYS/TEMP] too many connections from your address\r\n")
            await _close(writer)
            return
        self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        session = Session(
            config=SessionConfig(cfg.hostname, tls_available=cfg.ssl_context is not None, dev_mode=cfg.dev_mode),
            backend=self.backend,
            throttle=self.throttle,
            peer_ip=ip,
            peer_loopback=is_loopback(ip),
            tls=implicit_tls,
            relayed=relayed,
        )
        if self.session_hook:
            self.session_hook(session)
        watchdog = _Watchdog(cfg.idle_timeout)
        try:
            await self._converse(session, reader, writer, watchdog)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            log.debug("pop3: connection from %s lost: %s", ip, exc)
        except asyncio.CancelledError:
            # Idle timeout or server shutdown. Not re-raised: asyncio's stream callback (3.11)
            # would log a traceback for a cancelled handler task, and nobody awaits its result.
            why = b"idle timeout, closing" if watchdog.fired else b"server shutting down"
            try:
                writer.write(b"-ERR [SYS/TEMP] " + why + b"\r\n")
            except Exception:
                pass
        except Exception:
            log.exception("pop3: session from %s failed", ip)
        finally:
            watchdog.stop()
            self._per_ip[ip] -= 1
            if not self._per_ip[ip]:
                del self._per_ip[ip]
            try:
                await session.end()
            finally:
                await _close(writer)

    async def _converse(
        self, session: Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, watchdog: _Watchdog
    ) -> None:
        cfg = self.config
        lines = _LineReader(reader, watchdog)
        writer.write(session.greeting())
        commands = errors = 0
        while True:
            if not lines.has_line():
                await writer.drain()
                watchdog.touch()  # the idle time is the client's: count from when our reply is out
                session.idle()
            try:
                line = await lines.readline(session.max_line)
            except LineTooLong:
                reply = session.line_too_long()
            else:
                if line is None:
                    return
                commands += 1
                if commands > cfg.max_commands:
                    writer.write(b"-ERR too many commands\r\n")
                    return
                reply = await session.handle(line)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            writer.writelines(reply.data)
            errors = errors + 1 if reply.data and reply.data[0].startswith(b"-ERR") else 0
            if errors >= cfg.bad_commands:
                writer.write(b"-ERR too many errors, closing\r\n")
                return
            if reply.close:
                return
            if reply.start_tls:
                await writer.drain()
                # Anything the client pipelined after STLS was sent in clear text and could be
                # injected by a man in the middle: it is thrown away, never executed (RFC 2595).
                lines.discard_buffer()
                stale = getattr(reader, "_buffer", None)  # StreamReader keeps no public way to drop it
                if stale:
                    stale.clear()
                assert cfg.ssl_context is not None
                await writer.start_tls(cfg.ssl_context, ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT)
                session.tls_started()


async def _close(writer: asyncio.StreamWriter) -> None:
    try:
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 5)
    except Exception:
        pass
