"""Auto-replies (vacation messages) under RFC 3834.

Never to the null sender, to mailing lists (``List-*``, ``Precedence: bulk/list/
junk``), to auto-submitted mail, or to system senders (MAILER-DAEMON, *-request,
owner-*); at most once per sender per N days, remembered in ``AutoReplySent``.
The reply goes from the null sender with ``Auto-Submitted: auto-replied``, so it
can never start a loop. It is queued with a queue id derived from the message
it answers, so a retried delivery never sends it twice.
"""

from __future__ import annotations

import datetime
import email.utils
import re
import secrets
from email.header import Header

from mailcore.headersafe import is_unsafe

from .message import ParsedMessage

LIST_PRECEDENCE = {"bulk", "list", "junk"}
MSGID = re.compile(r"<[!-;=?-~]{1,900}>")  # one <id-left@id-right>, no spaces or angle brackets inside
SYSTEM_LOCALPARTS = {"mailer-daemon", "postmaster", "listserv", "majordomo", "noreply", "no-reply"}


def reply_allowed(sender: str, message: ParsedMessage) -> tuple[bool, str]:
    """(allowed, reason): may an automatic reply go to ``sender`` for ``message``?"""
    if not sender:
        return False, "null sender"
    if is_unsafe(sender):
        return False, "sender address holds control characters"
    auto = message.get("Auto-Submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return False, f"auto-submitted ({auto})"
    if message.get("Precedence").strip().lower() in LIST_PRECEDENCE:
        return False, "precedence " + message.get("Precedence").strip().lower()
    if any(name.lower().startswith("list-") for name in message.names()):
        return False, "mailing list"
    if message.has("X-Auto-Response-Suppress") and message.get("X-Auto-Response-Suppress").lower() in (
        "all", "oof", "autoreply"):
        return False, "auto-response suppressed"
    local = sender.rpartition("@")[0].lower()
    if local in SYSTEM_LOCALPARTS or local.endswith("-request") or local.startswith("owner-"):
        return False, "system sender"
    return True, ""


def _header_text(text: str) -> str:
    """One header-safe line; "" if the text (or an encoded word in it) holds control characters."""
    text = " ".join(str(text).split())[:200]
    if is_unsafe(text):
        return ""
    try:
        text.encode("ascii")
        return text
    except UnicodeEncodeError:
        return Header(text, "utf-8").encode()


def build_reply(*, mailbox: str, sender: str, message: ParsedMessage, subject: str, body: str, hostname: str,
                now: datetime.datetime | None = None) -> bytes:
    """The auto-reply from ``mailbox`` to ``sender`` answering ``message``."""
    now = now or datetime.datetime.now(datetime.UTC)
    original_subject = message.get("Subject")
    subject = subject or (f"Auto: {original_subject}" if original_subject else "Automatic reply")
    head = [
        f"From: <{mailbox}>",
        f"To: <{sender}>",
        f"Subject: {_header_text(subject) or 'Automatic reply'}",
        f"Date: {email.utils.format_datetime(now)}",
        f"Message-ID: <auto.{secrets.token_hex(8)}@{hostname}>",
        "Auto-Submitted: auto-replied",
        "Precedence: bulk",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    found = MSGID.search(message.get("Message-ID"))
    if found:
        head += [f"In-Reply-To: {found.group(0)}", f"References: {found.group(0)}"]
    text = "\r\n".join(str(body).splitlines()) + "\r\n"
    return ("\r\n".join(head) + "\r\n\r\n").encode() + text.encode("utf-8")


def recently_replied(mailbox: str, sender: str, days: int, now: datetime.datetime) -> bool:
    """True if ``mailbox`` auto-replied to ``sender`` within the last ``days`` days."""
    from agents.models import AutoReplySent

    since = now - datetime.timedelta(days=days)
    return AutoReplySent.objects.filter(mailbox=mailbox, sender=sender.lower(), sent__gt=since).exists()


def remember(mailbox: str, sender: str, now: datetime.datetime) -> None:
    from agents.models import AutoReplySent

    AutoReplySent.objects.update_or_create(mailbox=mailbox, sender=sender.lower(), defaults={"sent": now})
