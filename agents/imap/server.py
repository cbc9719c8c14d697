"""The IMAP listener: asyncio streams, STARTTLS and implicit TLS, literals, limits, IDLE, timeouts.

Reads one complete command at a time (line plus literals, each bounded before it is
read), hands it to the parser and the session (in a worker thread, as store calls
block), and writes the reply. A malformed command gets ``BAD``; a connection never
takes the server down.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
import ssl
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from agents import listeners, metrics, proxyprotocol
from agents.authcache import login_peer, login_via_proxy
from agents.evicting import evict_forever
from agents.loginguard import LoginGuard, memory_guard
from agents.peers import is_loopback
from agents.proxyprotocol import TrustedProxies

from . import responses as r
from .deflate import DeflateReader, DeflateWriter, Reader, Writer
from .interfaces import JunkTraining
from .lexer import literal_announcement
from .parser import Command, CommandError, parse_command
from .session import Authenticator, MailboxOpener, Reply, Session

log = logging.getLogger("agents.imap")
MAX_BAD_COMMANDS = 20
PREAUTH_MAX_BAD_COMMANDS = 3  # Dovecot's imap-login: the third invalid command before login ends it
MAX_LITERALS_PER_COMMAND = 1000
PREAUTH_MAX_LITERAL = 8 * 1024  # a LOGIN or AUTHENTICATE never needs more
IDLE_POLL_SECONDS = 0.5  # how often the files of a folder someone IDLEs on are looked at (once for all its idlers)
FULL_SYNC_SECONDS = 5.0  # each idler asks the index anyway this often (a change the file stamps missed)
LISTEN_BACKLOG = 1024  # a burst of connects (clients reconnecting after a restart) is queued, not refused


@dataclass
class Limits:
    max_literal: int = 64 * 1024 * 1024
    max_line: int = 64 * 1024
    idle_timeout: float = 30 * 60  # silence allowed once logged in (RFC 3501: at least 30 minutes)
    preauth_timeout: float = 3 * 60  # silence allowed before login (Dovecot's value)

    def timeout(self, session: Session) -> float:
        """How long ``session`` may stay silent: short before login (never longer than after), long after."""
        return min(self.preauth_timeout, self.idle_timeout) if session.state == "nonauth" else self.idle_timeout


class LineTooLong(Exception):
    """A line went past the limit without a line end: the connection is closed, never read to its end."""


class TooBig(Exception):
    def __init__(self, tag: str, nonsync: bool) -> None:
        self.tag, self.nonsync = tag, nonsync


class Hub:
    """Change notices for sessions in IDLE: a session of this process that changed a folder wakes the
    others that IDLE on it at once, and one poll of the folder's files for all its idlers catches
    changes by other processes (delivery, webmail, another agent).

    The poll is one timer for the whole process, every IDLE_POLL_SECONDS while anyone idles, and
    looks at each watched folder once whatever the number of its idlers, so 1,000 idle connections
    cost a few ``stat`` calls per folder per poll instead of a wake-up per connection.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiters: dict[tuple[str, str], set[asyncio.Event]] = defaultdict(set)
        self.stamps: dict[tuple[str, ...], tuple[tuple | None, set[asyncio.Event]]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, address: str, folder: str, event: asyncio.Event, files: tuple[str, ...] = ()) -> None:
        """Wake ``event`` when a session here changes the folder, or (``files`` given) when those files move."""
        self.waiters[(address, folder)].add(event)
        if files:
            found = self.stamps.get(files)
            if found is None:
                self.stamps[files] = (file_stamp(files), {event})
            else:
                found[1].add(event)
            if self._timer is None:
                self._timer = self.loop.call_later(IDLE_POLL_SECONDS, self._poll)

    def unwatch(self, address: str, folder: str, event: asyncio.Event, files: tuple[str, ...] = ()) -> None:
        key = (address, folder)
        self.waiters[key].discard(event)
        if not self.waiters[key]:
            del self.waiters[key]
        found = self.stamps.get(files) if files else None
        if found is not None:
            found[1].discard(event)
            if not found[1]:
                del self.stamps[files]

    def _poll(self) -> None:
        """One look at every watched folder's files; wake its idlers if they moved."""
        self._timer = None
        for files, (stamp, events) in list(self.stamps.items()):
            now = file_stamp(files)
            if now is None or now != stamp:  # None: cannot tell, so let them ask the index
                self.stamps[files] = (now, events)
                for event in events:
                    event.set()
        if self.stamps:
            self._timer = self.loop.call_later(IDLE_POLL_SECONDS, self._poll)

    def notify(self, address: str, folder: str) -> None:  # called from worker threads
        self.loop.call_soon_threadsafe(self._wake, (address, folder))

    def _wake(self, key: tuple[str, str]) -> None:
        for event in list(self.waiters.get(key, ())):
            event.set()


def stamp_files(session: Session) -> tuple[str, ...]:
    """The files a change to the selected folder touches (index WAL and file, Maildir dirs); () if the
    store does not say where they are (then the idler asks the index every FULL_SYNC_SECONDS only,
    and at once when a session of this process changes the folder)."""
    if session.mailbox is None or session.selected is None:
        return ()
    try:
        index = str(session.mailbox.index_path)
        folder = str(session.selected.folder.path)
    except AttributeError:
        return ()
    return index + "-wal", index, os.path.join(folder, "cur"), os.path.join(folder, "new")


def file_stamp(files: tuple[str, ...]) -> tuple | None:
    """A cheap fingerprint of ``files`` (mtime and size of each); None if one cannot be read."""
    try:
        out = []
        for path in files:
            st = os.stat(path)
            out.append((st.st_mtime_ns, st.st_size))
        return tuple(out)
    except OSError:
        return None


def _is_bad(reply: Reply, tag: str) -> bool:
    """True if the reply's tagged line is BAD (an invalid command)."""
    return bool(reply.lines) and reply.lines[-1].startswith(tag.encode() + b" BAD")


def raise_open_files_limit() -> None:
    """Lift the soft limit on open files to the hard one: each connection is a descriptor, and the
    usual soft default (1,024) would refuse connections long before memory or CPU run short."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open files limit: %s", exc)


class Watchdog:
    """Ends a connection that stayed silent too long while the server waited for its next command.

    One timer per connection, re-armed only when it fires (a command costs a clock read,
    not a task and a timer as ``asyncio.wait_for`` would); it fires only while the server
    is reading a command (``reading``), never while one runs or in IDLE (which keeps its own
    deadline), and cancels the connection's task, which says ``* BYE Autologout``.
    """

    def __init__(self, timeout: Callable[[], float]) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.timeout = timeout
        self.reading = False
        self.fired = False
        self.deadline = self.loop.time() + timeout()
        self._handle = self.loop.call_at(self.deadline, self._check)

    def read(self) -> None:
        """The server starts waiting for a command: the client has ``timeout()`` seconds from now."""
        self.reading = True
        self.deadline = self.loop.time() + self.timeout()
        if self._handle.when() > self.deadline:  # a shorter limit than armed (never the case today)
            self._handle.cancel()
            self._handle = self.loop.call_at(self.deadline, self._check)

    def done(self) -> None:
        self.reading = False

    def _check(self) -> None:
        now = self.loop.time()
        if self.reading and now >= self.deadline:
            self.fired = True
            if self.task is not None:
                self.task.cancel()
            return
        self._handle = self.loop.call_at(self.deadline if self.reading else now + self.timeout(), self._check)

    def stop(self) -> None:
        self._handle.cancel()


def tune_gc() -> None:
    """Collect the young generation less often.

    A 100,000-message listing is 100,000+ long-lived objects (the store keeps it per process);
    with CPython's default thresholds every big FETCH or SEARCH response churns enough
    allocations to rescan them all, which cost tens of milliseconds on the next small command.
    """
    gen0, gen1, gen2 = gc.get_threshold()
    if gen0 < 50_000:
        gc.set_threshold(50_000, max(gen1, 20), max(gen2, 100))


class ImapServer:
    def __init__(self, open_mailbox: MailboxOpener, authenticate: Authenticator, *, ssl_context: ssl.SSLContext | None,
                 dev_mode: bool = False, limits: Limits | None = None, hostname: str = "localhost",
                 throttle: LoginGuard | None = None, junk_training: JunkTraining | None = None,
                 processes: int = 1, trusted_proxies: TrustedProxies | None = None,
                 evictions: Callable[[list[str]], dict[str, str]] | None = None) -> None:
        self.open_mailbox = open_mailbox
        # Cluster mode: which of the given users' mailboxes this process must stop serving, and why
        # (frozen for a move, or homed elsewhere now); asked every agents.evicting.EVICT_EVERY seconds.
        self.evictions = evictions
        self.sessions: dict[asyncio.Task, Session] = {}
        self.evicted: dict[asyncio.Task, str] = {}
        self._evicting: asyncio.Task | None = None
        self.authenticate = authenticate
        self.ssl_context = ssl_context
        self.dev_mode = dev_mode
        self.limits = limits or Limits()
        self.hostname = hostname
        self.throttle = throttle or memory_guard()
        self.junk_training = junk_training
        self.processes = processes  # imap processes sharing the ports (agents.listeners)
        self.trusted_proxies = trusted_proxies or TrustedProxies()  # PROXY headers believed from these only
        self.servers: list[asyncio.base_events.Server] = []
        self.hub: Hub | None = None
        self.connections: set[asyncio.Task] = set()

    async def start(self, host: str, port: int | None, tls_port: int | None = None) -> list[int]:
        """Listen on ``port`` (STARTTLS) and ``tls_port`` (implicit TLS); returns the bound ports."""
        tune_gc()
        raise_open_files_limit()
        self.hub = Hub(asyncio.get_running_loop())
        if self.evictions is not None:
            self._evicting = asyncio.get_running_loop().create_task(
                evict_forever(self.evictions, self._logged_in, self._evict, log, "IMAP"))
        shared = listeners.server_options(self.processes)
        bound = []
        if port is not None:
            server = await asyncio.start_server(lambda rd, wr: self._client(rd, wr, False), host, port,
                                                limit=self.limits.max_line + 2, backlog=LISTEN_BACKLOG, **shared)
            self.servers.append(server)
            bound.append(server.sockets[0].getsockname()[1])
        if tls_port is not None and self.ssl_context is not None:
            server = await asyncio.start_server(lambda rd, wr: self._client(rd, wr, True), host, tls_port,
                                                ssl=self.ssl_context, limit=self.limits.max_line + 2,
                                                backlog=LISTEN_BACKLOG, **shared)
            self.servers.append(server)
            bound.append(server.sockets[0].getsockname()[1])
        return bound

    def _logged_in(self) -> dict[asyncio.Task, str]:
        return {task: s.user.address for task, s in self.sessions.items() if s.user is not None}

    def _evict(self, task: asyncio.Task, reason: str) -> None:
        """End the connection's task; its BYE names ``reason``."""
        if not task.done():
            self.evicted[task] = reason
            task.cancel()

    async def close(self) -> None:
        if self._evicting is not None:
            self._evicting.cancel()
        for server in self.servers:
            server.close()
        for task in list(self.connections):
            task.cancel()
        for server in self.servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 2)
            except TimeoutError:
                pass
        await asyncio.to_thread(metrics.stop)  # the sessions' last logins, before the database goes

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, implicit_tls: bool) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.connections.add(task)
        peer = (writer.get_extra_info("peername") or ("", 0))[0]
        relayed = False  # a trusted mail proxy relays this client (agents.proxyprotocol)
        if not implicit_tls and self.trusted_proxies:
            try:
                peer, relayed = await proxyprotocol.client_address(reader, str(peer), self.trusted_proxies)
            except (proxyprotocol.ProxyHeaderError, TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
                if not proxyprotocol.quiet(exc):
                    log.warning("IMAP connection from proxy %s closed: bad PROXY header (%s)", peer, exc)
                if task is not None:
                    self.connections.discard(task)
                writer.close()
                return
        login_peer.set(str(peer))  # this connection's task only: an app password's last use records it
        login_via_proxy.set(relayed)  # only then may LOGIN carry the proxy's one-time token
        # The proxy ended the client's TLS; its link to us is the operator's network: LOGIN is allowed on it.
        session = Session(self.open_mailbox, self.authenticate, peer=peer, tls=implicit_tls,
                          tls_available=self.ssl_context is not None,
                          plaintext_login=relayed or (self.dev_mode and is_loopback(peer)), throttle=self.throttle,
                          notifier=self.hub, hostname=self.hostname, junk_training=self.junk_training)
        current: list[Writer] = [writer]
        if task is not None:
            self.sessions[task] = session
        watchdog = Watchdog(lambda: self.limits.timeout(session))
        try:
            writer.write(session.greeting())
            await writer.drain()
            await self._serve(session, reader, writer, current, watchdog)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError):
            pass
        except asyncio.CancelledError:
            why = b"* BYE Autologout; idle for too long\r\n" if watchdog.fired else b"* BYE Server shutting down\r\n"
            moved = self.evicted.get(task) if task is not None else None
            if moved:
                why = f"* BYE [UNAVAILABLE] {moved}\r\n".encode()
            try:
                current[0].write(why)  # compressed if COMPRESS is on
            except Exception:
                pass
        except Exception:  # a bug must cost one connection, never the server
            log.exception("IMAP connection from %s failed", peer)
        finally:
            watchdog.stop()
            if task is not None:
                self.connections.discard(task)
                self.sessions.pop(task, None)
                self.evicted.pop(task, None)
            try:
                writer.close()
            except Exception:
                pass

    async def _serve(self, session: Session, reader: Reader, writer: Writer, current: list[Writer],
                     watchdog: Watchdog) -> None:
        """Run commands until logout; ``current[0]`` is kept as the writer in use (it changes with COMPRESS)."""
        bad = 0  # consecutive invalid commands
        preauth_bad = 0  # invalid commands before login (not reset by valid ones)
        while session.state != "logout":
            watchdog.read()
            try:
                data = await self._read_command(session, reader, writer)
            except LineTooLong:
                writer.write(b"* BAD Line too long\r\n* BYE Line too long\r\n")
                await writer.drain()
                return
            except TooBig as exc:
                writer.write(r.tagged(exc.tag, "NO", "Literal too large", "TOOBIG"))
                if exc.nonsync or session.state == "nonauth":
                    # The client sends it anyway (we cannot resynchronise), or nobody has logged in yet.
                    writer.write(b"* BYE Literal too large\r\n")
                    await writer.drain()
                    return
                await writer.drain()
                continue
            finally:
                watchdog.done()
            if data is None:
                return
            preauth = session.state == "nonauth"
            try:
                cmd = parse_command(data, utf8=session.rev2)  # IMAP4rev2: UTF-8 mailbox names
            except CommandError as exc:
                bad += 1
                preauth_bad += preauth
                writer.write(r.tagged(exc.tag, "BAD", str(exc)))
                if bad >= MAX_BAD_COMMANDS or preauth_bad >= PREAUTH_MAX_BAD_COMMANDS:
                    writer.write(b"* BYE Too many invalid IMAP commands\r\n")
                    await writer.drain()
                    return
                await writer.drain()
                continue
            bad = 0
            reply = await self._execute(session, cmd)
            if reply.action == "authenticate":
                writer.write(b"+ \r\n")
                await writer.drain()
                watchdog.read()  # a client that never answers the continuation is logged out too
                try:
                    line = await self._read_line(reader)
                except LineTooLong:
                    writer.write(b"* BYE Line too long\r\n")
                    await writer.drain()
                    return
                finally:
                    watchdog.done()
                if line is None:
                    return
                cmd.initial = line  # type: ignore[attr-defined]
                reply = await self._execute(session, cmd)
            if reply.action == "starttls" and len(getattr(reader, "_buffer", b"")):
                # Plaintext pipelined after STARTTLS would be taken as sent under TLS (CVE-2011-0411).
                writer.write(b"* BYE Data after STARTTLS\r\n")
                await writer.drain()
                return
            if reply.delay:  # a failed login: this session waits, the loop and other sessions do not
                await asyncio.sleep(reply.delay)
            writer.write(b"".join(reply.lines))
            if preauth and session.state == "nonauth" and _is_bad(reply, cmd.tag):
                preauth_bad += 1
                if preauth_bad >= PREAUTH_MAX_BAD_COMMANDS:
                    writer.write(b"* BYE Too many invalid IMAP commands\r\n")
                    await writer.drain()
                    return
            # Free the lines now, while the client reads them: 100,000 FETCH lines freed when the next
            # command came in would delay that command by a millisecond.
            reply.lines.clear()
            await writer.drain()
            if reply.action == "starttls" and self.ssl_context is not None and isinstance(writer, asyncio.StreamWriter):
                await writer.start_tls(self.ssl_context)
                session.tls = True
            elif reply.action == "compress" and isinstance(reader, asyncio.StreamReader) \
                    and isinstance(writer, asyncio.StreamWriter):
                # Everything after the tagged OK is deflated, both ways (RFC 4978), over TLS if that is on.
                reader, writer = DeflateReader(reader, self.limits.max_line + 2), DeflateWriter(writer)
                current[0] = writer
            elif reply.action == "idle":
                if not await self._idle(session, cmd.tag, reader, writer):
                    return
            elif reply.action == "logout":
                return

    async def _execute(self, session: Session, cmd: Command) -> Reply:
        try:
            if session.is_light(cmd):
                return session.execute(cmd)
            return await asyncio.to_thread(session.execute, cmd)
        except Exception:
            log.exception("IMAP command %s failed", getattr(cmd, "name", "?"))
            return Reply([r.tagged(getattr(cmd, "tag", "*"), "NO", "Internal server error", "SERVERBUG")])

    async def _read_line(self, reader: Reader) -> bytes | None:
        """One line without its CRLF; None at end of input; LineTooLong if over the limit.

        The read is bounded: the reader never buffers more than the limit, and a line that
        passes it is not read any further (the caller closes the connection).
        """
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError:
            raise LineTooLong() from None
        if len(line) > self.limits.max_line + 2:
            raise LineTooLong()
        return line.rstrip(b"\r\n") if line.endswith(b"\r\n") else line[:-1]

    async def _read_command(self, session: Session, reader: Reader, writer: Writer) -> bytes | None:
        line = await self._read_line(reader)
        if line is None:
            return None
        parts: list[bytes] = []
        total = 0
        limit = self.limits.max_literal if session.state != "nonauth" else min(PREAUTH_MAX_LITERAL,
                                                                                 self.limits.max_literal)
        for _ in range(MAX_LITERALS_PER_COMMAND):
            announced = literal_announcement(line)
            if announced is None:
                parts.append(line)
                return b"".join(parts)
            size, nonsync = announced
            total += size
            if size > limit or total > limit:
                tag = line.split(b" ", 1)[0].decode("ascii", "replace")[:64] if not parts else \
                    parts[0].split(b" ", 1)[0].decode("ascii", "replace")[:64]
                raise TooBig(tag or "*", nonsync)
            if not nonsync:
                writer.write(b"+ Ready for literal data\r\n")
                await writer.drain()
            literal = await reader.readexactly(size)
            parts.append(line + b"\r\n" + literal)
            line = await self._read_line(reader)
            if line is None:
                return None
        raise LineTooLong()

    async def _idle(self, session: Session, tag: str, reader: Reader, writer: Writer) -> bool:
        """Push updates until the client says DONE; False if the connection should end."""
        event = asyncio.Event()
        key = (session.user.address, session.selected.name) if session.user and session.selected else None
        files = stamp_files(session)
        if key and self.hub:
            # Watched before the client hears "+": a change made once it has (by a session in another
            # process, say) moves the files after their stamp was taken, never before it. A change between
            # the last sync and the stamp is caught by one sync at once (the event starts set).
            self.hub.watch(*key, event, files)
            event.set()
        writer.write(b"+ idling\r\n")
        await writer.drain()
        read = asyncio.ensure_future(self._read_line(reader))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.timeout(session)
        next_full_sync = loop.time() + FULL_SYNC_SECONDS
        try:
            while True:
                waiter = asyncio.ensure_future(event.wait())
                try:
                    # Woken by the hub (a change here, or the folder's files moved), by the client, or to ask
                    # the index anyway every FULL_SYNC_SECONDS; no wake-up per connection otherwise.
                    wait = max(0.0, min(next_full_sync, deadline + 0.01) - loop.time())
                    done, _ = await asyncio.wait({read, waiter}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                if read in done:
                    try:
                        line = read.result()
                    except LineTooLong:
                        writer.write(b"* BYE Line too long\r\n")
                        await writer.drain()
                        return False
                    if line is None:
                        return False
                    if line.strip().upper() == b"DONE":
                        writer.write(r.tagged(tag, "OK", "IDLE terminated"))
                    else:
                        writer.write(r.tagged(tag, "BAD", "Expected DONE"))
                    await writer.drain()
                    return True
                if loop.time() > deadline:
                    writer.write(b"* BYE Autologout; idle for too long\r\n")
                    await writer.drain()
                    return False
                woken = event.is_set()
                event.clear()
                if session.state != "selected":
                    continue
                if not woken and loop.time() < next_full_sync:
                    continue
                next_full_sync = loop.time() + FULL_SYNC_SECONDS
                lines = await asyncio.to_thread(session.sync, True)
                if lines:
                    writer.write(b"".join(lines))
                    await writer.drain()
        finally:
            if not read.done():
                read.cancel()
            if key and self.hub:
                self.hub.unwatch(*key, event, files)
