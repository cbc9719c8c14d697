"""The aiosmtpd handler: each SMTP command's hook asks the policy, then the queue.

Session state lives in aiosmtpd's ``Session``/``Envelope``; decisions in
``policy`` and ``content`` (pure), in the submission policy
(``agents.queue.submission``: sender rights, rate and recipient limits, size,
the account guard) and in the MX door's inbound hooks (``agents.mailauth.hooks``);
storage behind ``Submitter`` (``agents.queue``). All of these come in through the
constructor. The handler carries facts between them and records every refusal
(``agents.queue.refusals``: a log line at once, rows in batches off the loop).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session

from agents.loginguard import LoginGuard, memory_guard
from agents.peers import PeerLimits
from agents.queue.refusals import Refusal, RefusalLog
from agents.queue.submission import Client, Decision

from . import content, policy, replies
from .auth import AuthMechanisms, Verifier, peer_ip
from .stats import RejectTally

log = logging.getLogger(__name__)

# (raw message, envelope fields, queue id) -> queue id, once durable
Submitter = Callable[[bytes, dict, str], Awaitable[str]]


@dataclass(frozen=True)
class SmtpOptions:
    hostname: str
    max_message_size: int
    max_recipients: int
    max_hops: int


class SubmissionRules(Protocol):
    """The submission policy as the handler uses it (``agents.queue.submission.SubmissionPolicy``);
    synchronous: the handler calls it from a thread."""

    def sender(self, client: Client, sender: str) -> Decision | None: ...

    def recipient(self, client: Client, accepted_so_far: int) -> Decision | None: ...

    def message(self, client: Client, size: int) -> Decision | None:
        """No database: the handler calls it on the loop."""

    def guard_hold(self, client: Client, recipients: int) -> Any: ...  # the guard's trigger, or None

    def queued(self, client: Client, trigger: Any) -> None: ...


class InboundHooks(Protocol):
    """The MX door's checks of unauthenticated mail (``agents.mailauth.hooks``); ``wants_*`` answer
    on the loop, ``on_*`` run in a thread and return a reply line or None."""

    def wants_mail(self, listener: str, authenticated: bool) -> bool: ...

    def on_mail(self, listener: str, auth_user: str, ip: str) -> str | None: ...

    def wants_rcpt(self, listener: str, authenticated: bool, recipient: str) -> bool: ...

    def on_rcpt(self, listener: str, auth_user: str, ip: str, helo: str, sender: str, recipient: str,
                accepted: int) -> str | None: ...

    def wants_data(self, listener: str, authenticated: bool) -> bool: ...

    def on_data(self, listener: str, auth_user: str, ip: str, helo: str, sender: str, recipients: list[str],
                raw: bytes) -> tuple[str | None, bytes]: ...


class NoInbound:
    """Inbound hooks that check nothing (a server built without mail authentication)."""

    def wants_mail(self, listener: str, authenticated: bool) -> bool:
        return False

    def on_mail(self, listener: str, auth_user: str, ip: str) -> str | None:
        return None

    def wants_rcpt(self, listener: str, authenticated: bool, recipient: str) -> bool:
        return False

    def on_rcpt(self, listener: str, auth_user: str, ip: str, helo: str, sender: str, recipient: str,
                accepted: int) -> str | None:
        return None

    def wants_data(self, listener: str, authenticated: bool) -> bool:
        return False

    def on_data(self, listener: str, auth_user: str, ip: str, helo: str, sender: str, recipients: list[str],
                raw: bytes) -> tuple[str | None, bytes]:
        return None, raw


def tls_of(server: SMTP) -> str:
    """The TLS version and cipher of this connection (STARTTLS or implicit), "" if plaintext."""
    transport = server.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return ""
    return content.tls_description(ssl_object.version(), ssl_object.cipher())


def _declared_size(mail_options: list[str]) -> int:
    for option in mail_options:
        key, _, value = option.partition("=")
        if key.upper() == "SIZE" and value.isdigit():
            return int(value)
    return 0


_HOOK_NAMES: dict[type, list[str]] = {}

# What the Received: field and the MSA's fields may add to a message (for ``new_id``'s size hint).
TRACE_ALLOWANCE = 1024


class SmtpHandler(AuthMechanisms):
    def __init__(
        self,
        listener: policy.Listener,
        options: SmtpOptions,
        directory: policy.Directory,
        limits: PeerLimits,
        tally: RejectTally,
        submit: Submitter,
        verify: Verifier,
        submission: SubmissionRules,
        inbound: InboundHooks,
        refusals: RefusalLog,
        new_id: Callable[[int], str],
        guard: LoginGuard | None = None,
    ) -> None:
        self.listener = listener
        self.options = options
        self.directory = directory
        self.limits = limits
        self.tally = tally
        self.submit = submit
        self.verify = verify
        self.submission = submission
        self.inbound = inbound
        self.refusals = refusals
        self.new_id = new_id
        self.guard = guard if guard is not None else memory_guard()
        # Set when the agent is stopping: transactions under way finish, new ones are refused.
        self.draining = False
        self._ehlo_lines: dict[tuple[str, ...], list[str]] = {}  # handle_EHLO's answers

    def __dir__(self) -> list[str]:
        """Only the hooks aiosmtpd looks for (``handle_*``, ``auth_*``), which it collects
        with ``dir()``/``inspect.getmembers()`` on every connection."""
        names = _HOOK_NAMES.get(type(self))
        if names is None:
            names = _HOOK_NAMES[type(self)] = sorted(n for n in dir(type(self)) if n.startswith(("handle_", "auth_")))
        return list(names)

    def _client(self, server: SMTP, session: Session) -> Client:
        return Client(
            source=self.listener.name,
            auth_user=str(session.auth_data or "") if session.authenticated else "",
            client_address=peer_ip(server) or "",
            client_name=session.host_name or "",
            tls=tls_of(server).split(" (")[0][:64],
        )

    def _rejected(self) -> None:
        """A refused AUTH (``AuthMechanisms``): counted only; the login guard records it."""
        self.tally.hit()

    def record_refusal(self, server: SMTP, session: Session, envelope: Envelope, command: str, reply: str) -> None:
        """A refusal aiosmtpd made itself (the size limits), reported by ``MailSMTP.push``."""
        if session is None or envelope is None:
            return
        recipient = ",".join(envelope.rcpt_tos) if command == "DATA" else ""
        self._refusal(server, session, envelope, command, reply, recipient=recipient)

    def _refusal(self, server: SMTP, session: Session, envelope: Envelope, command: str, reply: str,
                  rule: str = "", recipient: str = "", sender: str | None = None) -> str:
        """Count and record a refusal (a log line now, a row with the next batch); returns ``reply``."""
        self.tally.hit()
        client = self._client(server, session)
        if sender is None:
            sender = envelope.mail_from or ""
        self.refusals.add(Refusal(
            source=client.source, command=command, reply=reply, rule=rule or replies.rule_of(reply),
            sender="" if sender == "<>" else sender, recipient=recipient, client_address=client.client_address,
            client_name=client.client_name, tls=client.tls, auth_user=client.auth_user,
        ))
        return reply

    def _facts(self, session: Session, envelope: Envelope | None = None) -> policy.SessionFacts:
        return policy.SessionFacts(
            listener=self.listener,
            auth_user=session.auth_data if session.authenticated else None,
            declared_size=getattr(envelope, "declared_size", 0) if envelope is not None else 0,
        )

    async def _decide(self, check: Callable[..., str | None], *args: object) -> str | None:
        """Run a policy check on the loop from cached answers, or in a thread when one is missing."""
        cached = getattr(self.directory, "cached", None)
        if cached is not None:
            try:
                return check(*args, cached())
            except policy.CacheMiss:
                pass
        return await asyncio.to_thread(check, *args, self.directory)

    # --- greeting ---------------------------------------------------------------------------
    async def handle_PROXY(self, server: SMTP, session: Session, envelope: Envelope, proxy_data: Any) -> bool:
        """A trusted proxy's PROXY header (read by aiosmtpd, only for MailSMTP.via_proxy connections):
        the client's address replaces the proxy's for the checks, the logs and the login guard. A
        malformed one closes the connection; LOCAL/UNKNOWN keeps the proxy's address."""
        if not proxy_data.valid:
            log.warning("smtp: bad PROXY header from %s: %s", peer_ip(server), proxy_data.error)
            return False
        if proxy_data.src_addr is not None:
            session.peer = (str(proxy_data.src_addr), int(proxy_data.src_port or 0))  # type: ignore[assignment]  # a peername tuple
        return True

    async def handle_HELO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str) -> str:
        session.host_name = hostname
        return f"250 {self.options.hostname}"

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """aiosmtpd's keywords (SIZE, 8BITMIME, SMTPUTF8, STARTTLS, AUTH) plus the ones it
        implements without announcing: PIPELINING (it reads commands from a buffered
        stream) and ENHANCEDSTATUSCODES (``replies.enhance`` makes every reply carry one)."""
        session.host_name = hostname
        key = (self.options.hostname, *responses)  # all the answer depends on, kept per state
        lines = self._ehlo_lines.get(key)
        if lines is None:
            keywords = [line[4:] for line in responses[1:] if line[4:] != "HELP"]
            keywords.insert(0, "PIPELINING")
            keywords.append("ENHANCEDSTATUSCODES")
            lines = [f"250-{self.options.hostname}"] + [f"250-{k}" for k in keywords]
            lines[-1] = "250 " + lines[-1][4:]
            if len(self._ehlo_lines) < 16:
                self._ehlo_lines[key] = lines
        return list(lines)

    # --- envelope ---------------------------------------------------------------------------
    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        sender = "" if address == "<>" else address
        if self.draining:
            return self._refusal(server, session, envelope, "MAIL", replies.shutting_down(self.options.hostname),
                                  sender=sender)
        decision = policy.check_address_form(sender, "SMTPUTF8" in mail_options, "Sender")
        if decision:
            return self._refusal(server, session, envelope, "MAIL", decision, sender=sender)
        envelope.declared_size = _declared_size(mail_options)  # type: ignore[attr-defined]
        decision = await self._decide(policy.check_sender, self._facts(session, envelope), sender)
        if decision is None and session.authenticated:
            # sender rights, the account guard, the rate limit: the one submission policy
            verdict = await asyncio.to_thread(self.submission.sender, self._client(server, session), sender)
            if verdict is not None:
                envelope.declared_size = 0  # type: ignore[attr-defined]
                return self._refusal(server, session, envelope, "MAIL", verdict.reply, verdict.rule, sender=sender)
        if decision is None and self.inbound.wants_mail(self.listener.name, bool(session.authenticated)):
            decision = await asyncio.to_thread(self.inbound.on_mail, self.listener.name, "", peer_ip(server) or "")
        if decision:
            envelope.declared_size = 0  # type: ignore[attr-defined]
            return self._refusal(server, session, envelope, "MAIL", decision, sender=sender)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return replies.SENDER_OK

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        decision = policy.check_address_form(address, bool(envelope.smtp_utf8), "Recipient")
        if decision:
            return self._refusal(server, session, envelope, "RCPT", decision, recipient=address)
        if address.lower() == "postmaster":
            address = await self._decide(policy.postmaster_address, self.options.hostname) or address
        decision = await self._decide(
            policy.check_recipient,
            self._facts(session, envelope),
            address,
            len(envelope.rcpt_tos),
            self.options.max_recipients,
        )
        if decision:
            return self._refusal(server, session, envelope, "RCPT", decision, recipient=address)
        if session.authenticated:  # the account domain's recipient limit
            verdict = await asyncio.to_thread(self.submission.recipient, self._client(server, session),
                                              len(envelope.rcpt_tos))
            if verdict is not None:
                return self._refusal(server, session, envelope, "RCPT", verdict.reply, verdict.rule, address)
        elif self.inbound.wants_rcpt(self.listener.name, False, address):  # greylisting
            decision = await asyncio.to_thread(
                self.inbound.on_rcpt, self.listener.name, "", peer_ip(server) or "", session.host_name or "",
                envelope.mail_from or "", address, len(envelope.rcpt_tos))
            if decision:
                return self._refusal(server, session, envelope, "RCPT", decision, recipient=address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RECIPIENT_OK

    async def handle_VRFY(self, server: SMTP, session: Session, envelope: Envelope, address: str) -> str:
        return replies.VRFY  # never tells whether a user exists

    # --- message ----------------------------------------------------------------------------
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw: bytes = envelope.original_content or b""
        problem = content.line_ending_problem(raw)
        if problem is None and content.count_hops(raw) > self.options.max_hops:
            problem = replies.TOO_MANY_HOPS
        if problem:
            return self._refusal(server, session, envelope, "DATA", problem, recipient=",".join(envelope.rcpt_tos))
        client = self._client(server, session)
        too_big = self.submission.message(client, len(raw))  # no database: on the loop
        if too_big is not None:
            return self._refusal(server, session, envelope, "DATA", too_big.reply, too_big.rule,
                                  recipient=",".join(envelope.rcpt_tos))
        if self.inbound.wants_data(self.listener.name, bool(session.authenticated)):
            problem, raw = await asyncio.to_thread(
                self.inbound.on_data, self.listener.name, "", peer_ip(server), session.host_name or "",
                "" if envelope.mail_from == "<>" else (envelope.mail_from or ""), list(envelope.rcpt_tos), raw)
            if problem:
                return self._refusal(server, session, envelope, "DATA", problem,
                                      recipient=",".join(envelope.rcpt_tos))
        trigger = None
        if session.authenticated:  # the account guard: a jump in sending is queued held
            trigger = await asyncio.to_thread(self.submission.guard_hold, client, len(envelope.rcpt_tos))
        queue_id = self.new_id(len(raw) + TRACE_ALLOWANCE)
        tls = tls_of(server)
        auth_user = session.auth_data if session.authenticated else ""
        sender = "" if envelope.mail_from == "<>" else (envelope.mail_from or "")
        trace = content.received_header(
            helo=session.host_name or "unknown",
            ip=peer_ip(server),
            hostname=self.options.hostname,
            protocol=content.protocol_name(session.extended_smtp, bool(tls), bool(auth_user), envelope.smtp_utf8),
            queue_id=queue_id,
            tls=tls,
            auth_user=auth_user or "",
            recipients=envelope.rcpt_tos,
        )
        raw = content.strip_return_path(raw)
        if auth_user or self.listener.name in ("submission", "smtps"):  # the MSA completes its users' mail
            raw = content.add_missing_msa_fields(raw, hostname=self.options.hostname, queue_id=queue_id)
        message = trace + raw
        fields = {
            "sender": sender,
            "recipients": list(envelope.rcpt_tos),
            "source": self.listener.name,
            "client_address": peer_ip(server),
            "client_name": session.host_name or "",
            "tls": tls.split(" (")[0][:64],
            "auth_user": auth_user or "",
            "held": trigger is not None,
        }
        try:
            queue_id = await self.submit(message, fields, queue_id)
        except Exception:
            log.exception("could not queue a message from %s", peer_ip(server))
            return replies.QUEUE_ERROR
        if trigger is not None:
            await asyncio.to_thread(self.submission.queued, client, trigger)
        log.info(
            "%s: from=<%s> size=%d nrcpt=%d client=[%s] via %s%s",
            queue_id, sender, len(message), len(envelope.rcpt_tos), peer_ip(server), self.listener.name,
            f" sasl_username={auth_user}" if auth_user else "",
        )
        return replies.queued(queue_id)

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error: %s", error, exc_info=error)
        return replies.INTERNAL_ERROR


# aiosmtpd calls inspect.signature(handle_EHLO) on every connection to pick its hook style;
# a precomputed __signature__ turns that into a lookup (it was ~10% of the agent's CPU).
SmtpHandler.handle_EHLO.__signature__ = inspect.signature(SmtpHandler.handle_EHLO)  # type: ignore[attr-defined]

__all__ = ["SmtpHandler", "SmtpOptions", "Submitter", "SubmissionRules", "InboundHooks", "NoInbound", "MISSING"]
