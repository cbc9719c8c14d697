"""The ManageSieve listener: asyncio streams, literals, STARTTLS, timeouts and limits.

Moves bytes between a socket and :class:`~agents.managesieve.session.Session`: it reads a
whole command (lines of at most ``MAX_LINE`` octets plus the literals they announce),
parses it (``parser``) and writes the session's reply.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass, field

from agents import metrics
from agents.authcache import login_peer
from agents.loginguard import LoginGuard
from agents.peers import PeerLimits, is_loopback

from . import parser
from .session import Backend, Reply, Session

log = logging.getLogger("agents.managesieve")

TLS_HANDSHAKE_TIMEOUT = 30.0


@dataclass
class ServerConfig:
    hostname: str
    bind: str
    port: int
    ssl_context: ssl.SSLContext | None
    idle_timeout: float = 600.0
    dev_mode: bool = False
    max_sessions_per_ip: int = 20
    bad_commands: int = 20


class TooLong(Exception):
    pass


@dataclass
class ManageSieveServer:
    config: ServerConfig
    backend: Backend
    guard: LoginGuard
    _servers: list[asyncio.Server] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _peers: PeerLimits = field(init=False)  # sessions per client address (max_sessions_per_ip)

    def __post_init__(self) -> None:
        self._peers = PeerLimits(self.config.max_sessions_per_ip)

    @property
    def port(self) -> int:
        return int(self._servers[0].sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._servers.append(await asyncio.start_server(self._accept, self.config.bind, self.config.port,
                                                        reuse_address=True, limit=parser.MAX_LINE + 2))
        log.info("managesieve: listening on %s port %s", self.config.bind, self.port)

    async def stop(self, grace: float = 5.0) -> None:
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
        await asyncio.to_thread(metrics.stop)  # the sessions' last logins, before the database goes

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        peer = writer.get_extra_info("peername") or ("?", 0)
        ip = str(peer[0])
        login_peer.set(ip)
        cfg = self.config
        if not self._peers.open_session(ip):
            writer.write(parser.response("BYE", "too many connections from your address"))
            await _close(writer)
            return
        session = Session(cfg.hostname, self.backend, self.guard, ip, is_loopback(ip),
                          tls_available=cfg.ssl_context is not None, dev_mode=cfg.dev_mode)
        try:
            await self._converse(session, reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, TimeoutError) as exc:
            log.debug("managesieve: connection from %s ended: %s", ip, exc)
        except asyncio.CancelledError:
            try:
                writer.write(parser.response("BYE", "server shutting down"))
            except Exception:
                pass
        except Exception:
            log.exception("managesieve: session from %s failed", ip)
        finally:
            self._peers.close_session(ip)
            await _close(writer)

    async def _read_command(self, reader: asyncio.StreamReader) -> bytes | None:
        """One whole command with its literals, or None at end of stream; TooLong past the limits."""
        data = bytearray()
        while True:
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), self.config.idle_timeout)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise TooLong from None
                return None
            except asyncio.LimitOverrunError:
                raise TooLong from None
            data += line
            size = parser.literal_at_end(line)
            if size is None:
                return bytes(data)
            if size > parser.MAX_LITERAL or len(data) + size > parser.MAX_LITERAL + parser.MAX_LINE:
                raise TooLong
            data += await asyncio.wait_for(reader.readexactly(size), self.config.idle_timeout)

    async def _converse(self, session: Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(session.capability())
        errors = 0
        while True:
            await writer.drain()
            try:
                raw = await self._read_command(reader)
            except TooLong:
                writer.write(parser.response("BYE", "command too long"))
                await _linger(reader, writer)
                return
            if raw is None:
                return
            try:
                reply = await session.handle(parser.parse(raw))
            except parser.ParseError as exc:
                reply = Reply(parser.response("NO", f"syntax error: {exc}"))
            while reply.continuation:
                writer.write(reply.data)
                await writer.drain()
                try:
                    answer = await self._read_command(reader)
                except TooLong:
                    writer.write(parser.response("BYE", "response too long"))
                    return
                if answer is None:
                    return
                try:
                    value = parser.parse(b"R " + answer).args
                    reply = await session.respond(str(value[0]) if len(value) == 1 else "")
                except parser.ParseError:
                    reply = await session.respond("")
            if reply.delay:
                await asyncio.sleep(reply.delay)
            writer.write(reply.data)
            errors = errors + 1 if reply.data.startswith(b"NO") else 0
            if errors >= self.config.bad_commands:
                writer.write(parser.response("BYE", "too many errors"))
                return
            if reply.close:
                return
            if reply.start_tls:
                await writer.drain()
                stale = getattr(reader, "_buffer", None)  # clear-text commands pipelined after STARTTLS: dropped
                if stale:
                    stale.clear()
                assert self.config.ssl_context is not None
                await writer.start_tls(self.config.ssl_context, ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT)
                session.tls_started()
                writer.write(session.capability())  # RFC 5804 2.2: capabilities again after TLS


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send our last words and read (a bounded amount of) what the client still sends: closing with unread
    input would reset the connection and the client could lose the reply."""
    try:
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(2):
            for _ in range(16):
                if not await reader.read(64 * 1024):
                    break
    except (TimeoutError, ConnectionError, OSError):
        pass


async def _close(writer: asyncio.StreamWriter) -> None:
    try:
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 5)
    except (Exception, asyncio.CancelledError):  # shutting down while a client lingers: nothing to wait for
        pass
