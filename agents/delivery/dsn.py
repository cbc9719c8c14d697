"""RFC 3464 delivery status notifications: bounces and delay warnings.

Built by hand as bytes (the ``email`` package reshapes ``message/delivery-status``
bodies), from the null sender ``MAILER-DAEMON@<hostname>`` to the envelope sender.
Callers must never send one to the null sender; :func:`build_dsn` refuses.
"""

from __future__ import annotations

import datetime
import email.utils
import secrets
from dataclasses import dataclass

from mailcore.headersafe import is_unsafe

HEADER_LIMIT = 64 * 1024  # original headers quoted in the report at most


@dataclass(frozen=True)
class RecipientStatus:
    """One recipient's line in the report."""

    address: str  # the final recipient
    action: str  # "failed" or "delayed" (RFC 3464 §2.3.3)
    status: str  # RFC 3463 code, e.g. "5.1.1"
    diagnostic: str = ""  # the remote reply or our own reason
    original: str = ""  # the address as the client gave it
    remote_mta: str = ""


def status_from_reply(code: int, text: str, default: str) -> str:
    """The enhanced status code in a reply text ("550 5.1.1 …"), else one made from ``code``."""
    first = text.strip().split(" ", 1)[0] if text else ""
    parts = first.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and parts[0] in ("2", "4", "5"):
        return first
    if 400 <= code < 500:
        return "4.0.0"
    if 500 <= code < 600:
        return "5.0.0"
    return default


def original_headers(raw: bytes) -> bytes:
    """The header block of ``raw`` (at most HEADER_LIMIT bytes), CRLF line endings."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    head = raw if end < 0 else raw[:end]
    head = head[:HEADER_LIMIT]
    return b"\r\n".join(head.splitlines()) + b"\r\n"


def _clean(text: str) -> str:
    """One header-safe line: no CR/LF, no control characters, no encoded word hiding one
    (remote replies and envelope addresses can hold anything)."""
    line = "".join(ch if ch >= " " and ch != "\x7f" else " " for ch in text)
    line = " ".join(line.split())[:900]
    return "" if is_unsafe(line) else line


def build_dsn(
    *,
    hostname: str,
    sender: str,
    queue_id: str,
    arrival: datetime.datetime,
    recipients: list[RecipientStatus],
    original: bytes,
    delay: bool = False,
    now: datetime.datetime | None = None,
) -> bytes:
    """The DSN message for ``recipients`` of the message ``original`` sent by ``sender``.

    ``delay`` makes a warning ("delayed", still being retried) instead of a bounce.
    Raises ValueError for the null sender: nothing is ever sent to ``<>``.
    """
    if not sender:
        raise ValueError("a DSN is never sent to the null sender")
    if not recipients:
        raise ValueError("a DSN needs at least one recipient status")
    now = now or datetime.datetime.now(datetime.UTC)
    boundary = f"=_dsn_{secrets.token_hex(12)}"
    subject = "Delayed Mail (still being retried)" if delay else "Undelivered Mail Returned to Sender"
    crlf = "\r\n"
    head = [
        f"From: Mail Delivery System <MAILER-DAEMON@{hostname}>",
        f"To: <{_clean(sender)}>",
        f"Subject: {subject}",
        f"Date: {email.utils.format_datetime(now)}",
        f"Message-ID: <{queue_id}.{'delay' if delay else 'dsn'}.{secrets.token_hex(4)}@{hostname}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
    ]
    lines = [f"This is the mail system at host {hostname}.", ""]
    if delay:
        lines += ["Your message could not be delivered yet to the recipients below.",
                  "It is still being retried; you do not need to send it again.", ""]
    else:
        lines += ["Your message could not be delivered to one or more recipients.",
                  "Its headers are attached below.", ""]
    for r in recipients:
        lines.append(f"<{_clean(r.address)}>: {_clean(r.diagnostic) or r.status}")
    human = crlf.join(lines) + crlf
    per_message = [
        f"Reporting-MTA: dns; {hostname}",
        f"X-Mailapp-Queue-ID: {queue_id}",
        f"Arrival-Date: {email.utils.format_datetime(arrival)}",
    ]
    blocks = [crlf.join(per_message)]
    for r in recipients:
        block = [f"Final-Recipient: rfc822; {_clean(r.address)}"]
        if r.original:
            block.append(f"Original-Recipient: rfc822; {_clean(r.original)}")
        block += [f"Action: {r.action}", f"Status: {r.status}"]
        if r.remote_mta:
            block.append(f"Remote-MTA: dns; {_clean(r.remote_mta)}")
        if r.diagnostic:
            kind = "smtp" if r.diagnostic[:3].isdigit() else "x-mailapp"
            block.append(f"Diagnostic-Code: {kind}; {_clean(r.diagnostic)}")
        blocks.append(crlf.join(block))
    status_body = (crlf + crlf).join(blocks) + crlf
    parts = [
        f"--{boundary}{crlf}Content-Type: text/plain; charset=utf-8{crlf}Content-Description: Notification{crlf}"
        f"{crlf}{human}",
        f"--{boundary}{crlf}Content-Type: message/delivery-status{crlf}Content-Description: Delivery report{crlf}"
        f"{crlf}{status_body}",
        f"--{boundary}{crlf}Content-Type: text/rfc822-headers{crlf}Content-Description: Undelivered Message Headers"
        f"{crlf}{crlf}",
    ]
    out = crlf.join(head).encode() + b"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n"
    out += parts[0].encode() + parts[1].encode() + parts[2].encode()
    out += original_headers(original) + f"{crlf}--{boundary}--{crlf}".encode()
    return out
