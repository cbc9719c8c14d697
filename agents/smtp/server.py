"""The smtp agent's process: three listeners (MX, submission, SMTPS) in one asyncio loop.

``python manage.py smtpd`` calls :func:`run`. Logs go to stderr; SIGTERM closes
the listeners, lets messages being queued finish (a few seconds at most), and
exits 0.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import socket
import ssl
import weakref
from dataclasses import dataclass, field
from typing import Any

from agents import aioloop, listeners, metrics
from agents.loginguard import LoginGuard
from agents.loginguard.db import mail_guard
from agents.peers import PeerLimits
from agents.proxyprotocol import TrustedProxies
from agents.queue import refusals, spool
from agents.queue.ids import new_queue_id
from agents.queue.refusals import RefusalLog
from agents.queue.reserve import Reservoir

from .auth import Verifier, config_verifier
from .handler import InboundHooks, SmtpHandler, SmtpOptions, SubmissionRules, Submitter
from .policy import Directory, Listener
from .protocol import MailSMTP, SessionTemplate
from .stats import RejectTally

log = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0
STOP_GRACE_SECONDS = 10.0


@dataclass
class ServerConfig:
    bind: str
    hostname: str
    listeners: list[Listener]
    options: SmtpOptions
    dev_mode: bool = False
    max_line: int = 2048
    max_commands: int = 1000
    idle_timeout: float = 300
    max_sessions_per_ip: int = 50
    processes: int = 1  # smtp agent processes sharing the ports (agents.listeners)
    trusted_proxies: list[str] = field(default_factory=list)  # PROXY headers and XCLIENT believed from these
    config_refresh: float = 0.5  # seconds between two looks at the configuration generation
    extra: dict = field(default_factory=dict)


def config_from_settings() -> ServerConfig:
    """Everything the agent needs from ``django.conf.settings`` (read in this one place)."""
    from django.conf import settings

    return ServerConfig(
        bind=settings.MAILAPP_BIND,
        hostname=settings.MAILAPP_HOSTNAME,
        listeners=[
            Listener("smtp", settings.MAILAPP_SMTP_PORT),
            Listener("submission", settings.MAILAPP_SUBMISSION_PORT, starttls_required=True, auth_required=True),
            Listener("smtps", settings.MAILAPP_SMTPS_PORT, implicit_tls=True, auth_required=True),
        ],
        options=SmtpOptions(
            hostname=settings.MAILAPP_HOSTNAME,
            max_message_size=settings.MAILAPP_MAX_MESSAGE_SIZE,
            max_recipients=settings.MAILAPP_MAX_RECIPIENTS,
            max_hops=settings.MAILAPP_MAX_HOPS,
        ),
        dev_mode=settings.MAILAPP_DEV_MODE,
        max_line=settings.MAILAPP_SMTP_MAX_LINE,
        max_commands=settings.MAILAPP_SMTP_MAX_COMMANDS,
        idle_timeout=settings.MAILAPP_SMTP_IDLE_TIMEOUT,
        max_sessions_per_ip=settings.MAILAPP_SMTP_MAX_SESSIONS_PER_IP,
        processes=1 if settings.MAILAPP_COMBINED_AGENTS else settings.MAILAPP_SMTP_PROCESSES,
        trusted_proxies=list(settings.MAILAPP_TRUSTED_PROXIES),
        config_refresh=settings.MAILAPP_CONFIG_REFRESH,
    )


def queue_submitter(in_flight: list[int], reservoir: Reservoir | None = None) -> Submitter:
    """Submit through ``agents.queue.submit_grouped`` on a worker thread (it fsyncs and commits)."""
    from agents.queue import Envelope, submit_grouped

    async def submit(raw: bytes, fields: dict, queue_id: str) -> str:
        in_flight[0] += 1
        try:
            loop = asyncio.get_running_loop()
            reserved = reservoir is not None and reservoir.claim(queue_id)
            job = functools.partial(
                submit_grouped, raw, Envelope(**fields), queue_id, fresh_id=True, reserved=reserved
            )
            return await loop.run_in_executor(None, job)
        finally:
            in_flight[0] -= 1

    return submit


def default_policies(
    options: SmtpOptions, submission: SubmissionRules | None, inbound: InboundHooks | None
) -> tuple[SubmissionRules, InboundHooks]:
    """The submission policy (``agents.queue.submission``) and the MX door's inbound checks
    (``agents.mailauth.hooks``) unless given: the composition root hands them to each handler."""
    if submission is None:
        from agents.queue.submission import SubmissionPolicy

        submission = SubmissionPolicy(max_message_size=options.max_message_size, max_recipients=options.max_recipients)
    if inbound is None:
        from agents.mailauth import hooks

        inbound = hooks  # the module has the InboundHooks functions
    return submission, inbound


class SmtpServer:
    """The listeners of one process, sharing the per-IP limits and the rejection tally."""

    def __init__(
        self,
        config: ServerConfig,
        tls_context: ssl.SSLContext | None,
        directory: Directory,
        submit: Submitter | None = None,
        verify: Verifier = config_verifier,
        reserve: int = 64,
        guard: LoginGuard | None = None,
        submission: SubmissionRules | None = None,
        inbound: InboundHooks | None = None,
    ) -> None:
        self.config = config
        self.tls_context = tls_context
        self.directory = directory
        self.in_flight = [0]
        # Spool files made ahead (their directory entries already durable) for the queue path.
        # Reserved spool files save a directory fsync; in cluster mode there are no spool files.
        self.reservoir = Reservoir(reserve) if submit is None and reserve and not spool.in_database() else None
        self.submit = submit or queue_submitter(self.in_flight, self.reservoir)
        self.verify = verify
        self.limits = PeerLimits(config.max_sessions_per_ip)
        self.trusted_proxies = TrustedProxies(config.trusted_proxies)
        # Failed AUTH is counted by the login guard shared with every process and door.
        self.guard = guard if guard is not None else mail_guard()
        self.tally = RejectTally()
        # Refusals: logged at once, stored in batches from a thread (agents.queue.refusals).
        self.refusals = RefusalLog()
        self.submission, self.inbound = default_policies(config.options, submission, inbound)
        self.sessions: weakref.WeakSet[MailSMTP] = weakref.WeakSet()
        self._servers: list[asyncio.Server] = []
        self._flusher: asyncio.Task | None = None
        self._refusal_flusher: asyncio.Task | None = None
        self._config_watcher: asyncio.Task | None = None
        self._handlers: list[SmtpHandler] = []

    def _factory(self, listener: Listener):
        handler = SmtpHandler(
            listener, self.config.options, self.directory, self.limits, self.tally, self.submit, self.verify,
            submission=self.submission, inbound=self.inbound, refusals=self.refusals, new_id=self._new_id,
            guard=self.guard,
        )
        self._handlers.append(handler)
        template = SessionTemplate()

        def make() -> MailSMTP:
            session = MailSMTP(
                handler,
                listener=listener,
                limits=self.limits,
                dev_mode=self.config.dev_mode,
                max_line=self.config.max_line,
                max_recipients=self.config.options.max_recipients,
                max_rcpt_commands=self.config.max_commands,
                on_refused=self.tally.hit,
                trusted_proxies=self.trusted_proxies,
                template=template,
                hostname=self.config.hostname,
                ident="ESMTP mailappliance",
                data_size_limit=self.config.options.max_message_size,
                enable_SMTPUTF8=True,
                tls_context=None if listener.implicit_tls else self.tls_context,
                require_starttls=listener.starttls_required,
                auth_required=listener.auth_required,
                # Per connection in MailSMTP.connection_made (implicit TLS, dev loopback);
                # True here keeps aiosmtpd from warning about AUTH without TLS.
                auth_require_tls=True,
                timeout=self.config.idle_timeout,
                # RCPT is counted by MailSMTP.smtp_RCPT, which leaves out those refused
                # because the transaction is full (aiosmtpd would close on them).
                command_call_limit={"*": self.config.max_commands, "RCPT": 2**62},
                loop=asyncio.get_running_loop(),
            )
            self.sessions.add(session)
            return session

        return make

    async def start(self, sockets: dict[str, socket.socket] | None = None) -> None:
        """Listen on each port (or on the already bound ``sockets``, by listener name)."""
        loop = asyncio.get_running_loop()
        for listener in self.config.listeners:
            if listener.implicit_tls and self.tls_context is None:
                log.warning("no TLS context: %s port %d not started", listener.name, listener.port)
                continue
            sock = (sockets or {}).get(listener.name)
            where = {"sock": sock} if sock is not None else {
                "host": self.config.bind, "port": listener.port, "reuse_address": True, "backlog": 1024,
                **listeners.server_options(self.config.processes),
            }
            server = await loop.create_server(
                self._factory(listener), ssl=self.tls_context if listener.implicit_tls else None, **where
            )
            self._servers.append(server)
            log.info("smtp agent listening on %s port %d (%s)", self.config.bind, listener.port, listener.name)
        self._flusher = loop.create_task(self._flush_forever())
        self._refusal_flusher = loop.create_task(self._flush_refusals_forever())
        self._config_watcher = loop.create_task(self._watch_config_forever())

    def _new_id(self, size: int) -> str:
        """A queue id for a message of about ``size`` octets: one with a spool file reserved ahead
        if the message will need a file (``agents.queue.spool.inline``)."""
        if self.reservoir is None or spool.inline(size):
            return new_queue_id()
        return self.reservoir.take() or new_queue_id()

    def ports(self) -> list[int]:
        return [s.sockets[0].getsockname()[1] for s in self._servers if s.sockets]

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await asyncio.to_thread(self.tally.flush)

    async def _watch_config_forever(self) -> None:
        """Look at the configuration generation every ``config_refresh`` seconds: the directory
        answers MAIL and RCPT from what it kept until the generation moves, so nothing else may
        ask ``agents.config`` for a long time (a change must still be seen within 2 s)."""
        from agents import config

        while True:
            await asyncio.sleep(self.config.config_refresh)
            try:
                await asyncio.to_thread(config.refresh)
            except Exception:  # the database away for a moment: the next look will tell
                log.warning("could not read the configuration generation", exc_info=True)

    async def _flush_refusals_forever(self) -> None:
        """Refusal rows in one INSERT per half second, from a thread: the trace shows them within 2 s."""
        while True:
            await asyncio.sleep(refusals.FLUSH_SECONDS)
            if self.refusals.pending():
                await asyncio.to_thread(self.refusals.flush)

    def drain(self) -> None:
        """Refuse new transactions (421) on open connections; those under way may finish."""
        for handler in self._handlers:
            handler.draining = True

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Close the listeners, drain, let messages being queued finish, then close the sessions."""
        self.drain()
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.in_flight[0] and loop.time() < deadline:
            await asyncio.sleep(0.05)
        handlers = []
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
            task = getattr(session, "_handler_coroutine", None)
            if task is not None and not task.done():
                handlers.append(task)
        if handlers:  # let each session's task see its connection go, so none is left pending
            await asyncio.wait(handlers, timeout=2)
        if self._flusher:
            self._flusher.cancel()
        if self._refusal_flusher:
            self._refusal_flusher.cancel()
        if self._config_watcher:
            self._config_watcher.cancel()
        if self.reservoir is not None:
            await asyncio.to_thread(self.reservoir.close)
        await asyncio.sleep(0)
        await asyncio.to_thread(self.tally.flush)
        await asyncio.to_thread(self.refusals.flush)
        await asyncio.to_thread(metrics.stop)  # the sessions' last logins, before the database goes
        from agents.queue import group

        committer = group.default_committer()
        if committer is not None and committer.messages:
            log.info("group commit: %d messages in %d commits", committer.messages, committer.groups)


async def serve(
    config: ServerConfig,
    stop: asyncio.Event,
    tls_context: ssl.SSLContext | None,
    sockets: dict[str, socket.socket] | None = None,
) -> None:
    """Run the agent until ``stop`` is set."""
    from .directory import ConfigDirectory

    loop = asyncio.get_running_loop()
    # Sessions wait on threads for lookups, password checks and queue commits; the
    # default pool (cores + 4) would cap a group commit at a handful of messages.
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="smtp"))
    server = SmtpServer(config, tls_context, ConfigDirectory())
    await server.start(sockets)
    try:
        await stop.wait()
    finally:
        log.info("smtp agent stopping")
        await server.stop()


def run_loop(main: Any) -> None:
    """Run the agent's loop on uvloop: the same asyncio API with the event loop in C, which
    roughly halves the CPU the loop itself costs per session."""
    import uvloop

    uvloop.run(main)


def run(workers: int = 1) -> int:
    """The process entry point: serve until SIGTERM or SIGINT, then return 0.

    With ``workers`` > 1 the sockets are bound here and served by that many
    forked processes (``agents.smtp.workers``).
    """
    from agents.tls import settings_server_context

    from .workers import bind, run_workers

    # aiosmtpd logs every command line at INFO: too chatty (and slow) for an MX.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    config = config_from_settings()
    tls_context = settings_server_context()

    def serve_here(sockets: dict[str, socket.socket] | None = None) -> None:
        async def main() -> None:
            await serve(config, aioloop.stop_on_signals(), tls_context, sockets)

        run_loop(main())

    if workers <= 1:
        serve_here()
        return 0
    shared = config.processes > 1
    sockets = {listener.name: bind(config.bind, listener.port, reuse_port=shared) for listener in config.listeners}
    return run_workers(workers, lambda: serve_here(sockets))
