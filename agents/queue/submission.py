"""The one submission policy: who may send what, how much, to how many (DESIGN, contract 2).

Every entry point asks this module before it queues: the SMTP agent step by step
(:meth:`SubmissionPolicy.sender` at MAIL, :meth:`~SubmissionPolicy.recipient` at
RCPT, :meth:`~SubmissionPolicy.message` and :meth:`~SubmissionPolicy.guard_hold`
at DATA), the whole-message entry points (webmail, the sendmail command,
forwards, auto-replies) in one call, :meth:`SubmissionPolicy.check`. The rules:

- **sender rights**: an authenticated account sends only as its own addresses and
  the aliases that reach it (``agents.config.may_send_as``); the null sender
  carries no identity;
- **account guard**: a suspended account may not submit (``accountguard``);
- **rate limit**: messages per hour per account (or per local user for sendmail),
  the sender domain's ``MailPolicy`` over ``MAILAPP_RATE_SENDER_PER_HOUR``;
- **recipient limits**: ``MAILAPP_MAX_RECIPIENTS`` per message, and an account's
  domain may set fewer (``max_recipients_per_message``);
- **size**: ``MAILAPP_MAX_MESSAGE_SIZE``.

Each check returns ``None`` or a :class:`Decision` (the SMTP reply and the rule's
name), so a webmail or sendmail submission is refused with the same words SMTP
uses. Whole-message refusals are recorded (``refusals``) here; the SMTP agent
records its own, batched off its event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from agents.smtp import replies

from . import accountguard, refusals

log = logging.getLogger(__name__)

# Forwards, auto-replies, bounces: mail the system makes on a delivery's behalf.
SYSTEM_SOURCES = ("forward", "autoreply", "bounce", "delay", "guard")


@dataclass(frozen=True)
class Client:
    """Who is submitting, as the entry point knows it."""

    source: str  # smtp, submission, smtps, webmail, sendmail, forward, autoreply, …
    auth_user: str = ""  # the authenticated account (canonical), "" if none
    client_address: str = ""
    client_name: str = ""  # HELO name, or "webmail"/"sendmail"
    tls: str = ""
    local_user: str = ""  # sendmail: the Unix user (its rate limit key)

    @property
    def account(self) -> str:
        """The identity that rate limits and the account guard count."""
        if self.auth_user:
            return self.auth_user.lower()
        return f"local:{self.local_user}" if self.local_user else ""


@dataclass(frozen=True)
class Decision:
    """A refusal: the SMTP reply line and the name of the rule that decided."""

    reply: str
    rule: str


class Refused(Exception):
    """A whole-message submission was refused (the reply is SMTP's for the same case)."""

    def __init__(self, decision: Decision, command: str = "SUBMIT") -> None:
        super().__init__(decision.reply)
        self.decision = decision
        self.command = command

    @property
    def reply(self) -> str:
        return self.decision.reply

    @property
    def rule(self) -> str:
        return self.decision.rule


def sender_rights(auth_user: str, sender: str, may_send_as: Callable[[str, str], bool]) -> Decision | None:
    """The one sender-rights rule: may account ``auth_user`` use envelope sender ``sender``?"""
    if not auth_user or sender == "":
        return None
    if may_send_as(auth_user, sender):
        return None
    return Decision(replies.sender_not_owned(sender, auth_user), "sender-rights")


def _may_send_as(user: str, sender: str) -> bool:
    from agents import config

    return config.may_send_as(user, sender)


class SubmissionPolicy:
    """The rules above; synchronous (they read the database): call it from a thread on an event loop."""

    def __init__(
        self,
        *,
        may_send_as: Callable[[str, str], bool] = _may_send_as,
        max_message_size: int | None = None,
        max_recipients: int | None = None,
    ) -> None:
        self.may_send_as = may_send_as
        self._max_message_size = max_message_size
        self._max_recipients = max_recipients

    @property
    def max_message_size(self) -> int:
        from django.conf import settings

        return self._max_message_size or settings.MAILAPP_MAX_MESSAGE_SIZE

    @property
    def max_recipients(self) -> int:
        from django.conf import settings

        return self._max_recipients or settings.MAILAPP_MAX_RECIPIENTS

    # --- step by step (SMTP) --------------------------------------------------------------
    def sender(self, client: Client, sender: str) -> Decision | None:
        """MAIL FROM: suspension, sender rights, then the rate limit (which counts this message)."""
        if client.source in SYSTEM_SOURCES:
            return None
        if client.auth_user and accountguard.suspended(client.auth_user) is not None:
            return Decision(accountguard.SUSPENDED_REPLY.format(account=client.auth_user), "account-guard")
        decision = sender_rights(client.auth_user, sender, self.may_send_as)
        if decision is not None:
            return decision
        return self._rate(client, sender)

    def _rate(self, client: Client, sender: str) -> Decision | None:
        from agents.mailauth import policy, ratelimit

        account = client.account
        if not account:
            return None
        address = client.auth_user or sender
        limit = policy.for_address(address).max_messages_per_hour if "@" in address else policy.default_policy(
        ).max_messages_per_hour
        if ratelimit.hit(f"sender:{account}", limit):
            return None
        return Decision(ratelimit.OVER_LIMIT, "rate-limit")

    def recipient(self, client: Client, accepted_so_far: int) -> Decision | None:
        """RCPT TO: the recipient limits (the whole transaction's, then the account domain's)."""
        if accepted_so_far >= self.max_recipients:
            return Decision(replies.TOO_MANY_RECIPIENTS, "recipient-limit")
        if not client.auth_user or client.source in SYSTEM_SOURCES:
            return None
        from agents.mailauth import policy, ratelimit

        limit = policy.for_address(client.auth_user).max_recipients_per_message
        if limit and accepted_so_far >= limit:
            return Decision(ratelimit.TOO_MANY_RECIPIENTS, "recipient-limit")
        return None

    def message(self, client: Client, size: int) -> Decision | None:
        """DATA: the message size."""
        if size > self.max_message_size:
            return Decision(replies.MESSAGE_TOO_BIG, "message-size")
        return None

    def guard_hold(self, client: Client, recipients: int) -> accountguard.Trigger | None:
        """Before queuing an authenticated account's message: does it trip the account guard?
        (Then the message is queued held and :meth:`queued` trips the guard.) Notes the client
        address as one the account uses."""
        if not client.auth_user or client.source in SYSTEM_SOURCES:
            return None
        try:
            trigger = accountguard.assess(client.auth_user, client.client_address, recipients)
            accountguard.note_address(client.auth_user, client.client_address)
        except Exception:  # the guard must never lose mail: log and let it through
            log.exception("account guard could not assess %s", client.auth_user)
            return None
        return trigger

    def queued(self, client: Client, trigger: accountguard.Trigger | None) -> None:
        """After a message is durable: trip the guard if :meth:`guard_hold` said so."""
        if trigger is None:
            return
        try:
            accountguard.trip(client.auth_user, trigger, client.client_address)
        except Exception:
            log.exception("account guard could not suspend %s", client.auth_user)

    # --- whole messages (webmail, sendmail, forwards, auto-replies) -----------------------
    def check(self, client: Client, sender: str, recipients: list[str], size: int) -> accountguard.Trigger | None:
        """Every rule for a whole message; raises :class:`Refused` (and records the refusal).

        Returns the account guard's trigger if the message must be queued held (pass it
        to :meth:`queued` once it is durable), else None.
        """
        decision = self.sender(client, sender)
        command, recipient = "MAIL", ""
        if decision is None:
            command = "RCPT"
            for index, address in enumerate(recipients):
                decision = self.recipient(client, index)
                if decision is not None:
                    recipient = address
                    break
        if decision is None:
            command = "DATA"
            decision = self.message(client, size)
        if decision is not None:
            self.refused(client, decision, command, sender, recipient)
            raise Refused(decision, command)
        return self.guard_hold(client, len(recipients))

    def submit(self, raw: bytes, envelope, client: Client, queue_id: str | None = None) -> str:
        """Check a whole message (:meth:`check`, raises :class:`Refused`), queue it durably
        (held if it trips the account guard) and return its queue id."""
        from . import submit as queue_submit

        trigger = self.check(client, envelope.sender, list(envelope.recipients), len(raw))
        envelope.held = trigger is not None
        queue_id = queue_submit(raw, envelope, queue_id=queue_id)
        self.queued(client, trigger)
        return queue_id

    def system(self, source: str, mailbox: str, sender: str, recipients: list[str], size: int) -> Decision | None:
        """Mail the system makes for ``mailbox`` (a forward, a filter redirect, an auto-reply):
        no sender rights or rate limits (the mail is not the account's own), but the size limit,
        and nothing on behalf of an account the guard suspended. A refusal is recorded."""
        client = Client(source=source, client_name=source)
        decision = self.message(client, size)
        if decision is None and mailbox and accountguard.suspended(mailbox) is not None:
            decision = Decision(accountguard.SUSPENDED_REPLY.format(account=mailbox), "account-guard")
        if decision is not None:
            self.refused(client, decision, "SUBMIT", sender, ",".join(recipients)[:512])
        return decision

    def refused(self, client: Client, decision: Decision, command: str, sender: str, recipient: str = "") -> None:
        """Record a refusal made outside the SMTP agent (synchronously)."""
        refusals.record(refusals.Refusal(
            source=client.source, command=command, reply=decision.reply, rule=decision.rule, sender=sender,
            recipient=recipient, client_address=client.client_address, client_name=client.client_name,
            tls=client.tls, auth_user=client.auth_user,
        ))


_default: SubmissionPolicy | None = None


def default_policy() -> SubmissionPolicy:
    """The policy built from the settings (one per process)."""
    global _default
    if _default is None:
        _default = SubmissionPolicy()
    return _default
