"""Who may send what to whom: the decisions behind MAIL FROM and RCPT TO.

Pure: the facts of a session come in as a :class:`SessionFacts`, the
configuration as a :class:`Directory` (``agents.smtp.directory`` answers it from
``agents.config``), and each check returns ``None`` (accept) or the reply line.
No I/O of its own, no Django, so every rule is testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from mailcore.quota import Shortfall

from . import replies

RecipientKind = Literal["mailbox", "alias", "unknown", "remote", "forged-srs"]


class CacheMiss(Exception):
    """A directory that answers only from memory has no fresh answer; ask again from a thread."""


@dataclass(frozen=True)
class Listener:
    """One listening port and what it demands."""

    name: str  # "smtp" (MX), "submission", "smtps": also the queue's ``source``
    port: int
    implicit_tls: bool = False  # SMTPS: TLS from the first byte
    starttls_required: bool = False  # submission: nothing but EHLO/STARTTLS/NOOP/QUIT before TLS
    auth_required: bool = False  # submission and SMTPS: MAIL needs AUTH


@dataclass(frozen=True)
class SessionFacts:
    listener: Listener
    auth_user: str | None  # the authenticated mailbox, canonical
    declared_size: int = 0  # MAIL FROM … SIZE=n, 0 if not given


class Directory(Protocol):
    """What the policy needs to know about the configuration (any method may raise CacheMiss)."""

    def recipient_kind(self, address: str) -> RecipientKind: ...

    def is_local_domain(self, domain: str) -> bool: ...

    def over_quota(self, address: str, incoming: int) -> Shortfall | None: ...


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


# RFC 5321 section 4.5.3.1: the sizes every implementation must accept, and what we refuse above them.
MAX_LOCAL_PART = 64
MAX_DOMAIN = 255
MAX_PATH = 256  # "<" address ">"


def check_address_form(address: str, smtputf8: bool, role: Literal["Sender", "Recipient"]) -> str | None:
    """Refuse a MAIL FROM or RCPT TO address over the RFC 5321 size limits (in octets), or
    a non-ASCII one in a transaction that did not declare SMTPUTF8 (RFC 6531 section 3.4)."""
    if not address:
        return None
    octets = address.encode("utf-8", "surrogateescape")
    local, _, domain = octets.rpartition(b"@")
    if len(local) > MAX_LOCAL_PART:
        return replies.address_too_long(role, f"local part exceeds {MAX_LOCAL_PART} octets")
    if len(domain) > MAX_DOMAIN:
        return replies.address_too_long(role, f"domain exceeds {MAX_DOMAIN} octets")
    if len(octets) + 2 > MAX_PATH:
        return replies.address_too_long(role, f"path exceeds {MAX_PATH} octets")
    if not smtputf8 and not octets.isascii():
        return replies.NEED_SMTPUTF8
    return None


def check_sender(facts: SessionFacts, sender: str, directory: Directory) -> str | None:
    """Decide MAIL FROM (``sender`` "" is the null sender).

    - An authenticated user's sender rights are the submission policy's
      (``agents.queue.submission.sender_rights``), asked by the handler after this.
    - Without AUTH, a port that requires it refuses a sender in a local domain
      (aiosmtpd already answers 530 before us; this is the second lock).
    - On the MX port an unauthenticated sender is taken as given (Postfix's default:
      a forwarded or list message may legitimately carry a local sender).
    """
    if sender == "":
        return None
    if "@" not in sender or not sender.rpartition("@")[0] or not _domain(sender):
        return replies.sender_not_fqdn(sender)
    if facts.auth_user:
        return None
    if facts.listener.auth_required:
        if directory.is_local_domain(_domain(sender)):
            return replies.sender_not_logged_in(sender)
        return replies.AUTH_REQUIRED
    return None


def check_recipient(
    facts: SessionFacts, recipient: str, accepted_so_far: int, max_recipients: int, directory: Directory
) -> str | None:
    """Decide RCPT TO, in Postfix's order: limits, syntax, relay, existence, quota.

    An alias counts as a valid recipient; its targets are expanded at delivery.
    """
    if accepted_so_far >= max_recipients:
        return replies.TOO_MANY_RECIPIENTS
    if "@" not in recipient or not recipient.rpartition("@")[0] or not _domain(recipient):
        return replies.recipient_not_fqdn(recipient)
    kind = directory.recipient_kind(recipient)
    if kind == "remote":
        return None if facts.auth_user else replies.relay_denied(recipient)
    if kind == "unknown":
        return replies.user_unknown(recipient)
    if kind == "forged-srs":
        return replies.srs_invalid(recipient)
    if kind == "mailbox":
        short = directory.over_quota(recipient, facts.declared_size)
        if short is not None:
            return replies.mailbox_full(recipient, short)
    return None


def postmaster_address(hostname: str, directory: Directory) -> str | None:
    """Where a bare ``RCPT TO:<Postmaster>`` goes (RFC 5321 4.5.1 says it must be accepted):
    postmaster of our host name's domain, or of its parent domain; None if neither is local."""
    for domain in (hostname, hostname.partition(".")[2]):
        if domain and directory.is_local_domain(domain):
            return f"postmaster@{domain}"
    return None
