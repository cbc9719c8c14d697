"""Checks on a received message and the trace header we add. Pure bytes in, bytes out.

Line endings: aiosmtpd 1.4.6 ends DATA only at ``<CR><LF>.<CR><LF>`` (the SMTP
smuggling fix), so ``\\n.\\n``, ``\\n.\\r\\n``, ``\\r.\\r`` or ``\\r\\n.\\n`` never end a
message early. We go one step further, like Postfix with
``smtpd_forbid_bare_newline = reject``: a message holding a bare ``<LF>`` or a
bare ``<CR>`` is refused outright, so no smuggling attempt is ever stored,
delivered or relayed to a server that might split it differently.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime

from . import replies

_HOSTNAME_JUNK = re.compile(rb"[^A-Za-z0-9.:\[\]_-]")
_ADDRESS_JUNK = re.compile(rb"[^!-~]|[()<>;\\]")  # printable ASCII without comment/field syntax


def line_ending_problem(raw: bytes) -> str | None:
    """The reply for a bare LF or bare CR in ``raw``, or None if every line ends in CRLF."""
    crlf = raw.count(b"\r\n")
    if raw.count(b"\n") != crlf:
        return replies.BARE_LF
    if raw.count(b"\r") != crlf:
        return replies.BARE_CR
    return None


def header_end(raw: bytes) -> int:
    """Offset just past the header block's last line (before the empty line), 0 if none."""
    if raw.startswith(b"\r\n"):
        return 0
    end = raw.find(b"\r\n\r\n")
    return len(raw) if end < 0 else end + 2


def count_hops(raw: bytes) -> int:
    """How many ``Received:`` fields the header holds (loop detection)."""
    head = raw[: header_end(raw)]
    return sum(1 for line in head.split(b"\r\n") if line[:9].lower() == b"received:")


def strip_return_path(raw: bytes) -> bytes:
    """``raw`` without ``Return-Path:`` fields: the envelope sender is kept by the queue and
    final delivery writes the one true Return-Path; a client's own would only mislead."""
    end = header_end(raw)
    head = raw[:end]
    if b"return-path:" not in head.lower():
        return raw
    kept: list[bytes] = []
    skipping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line[:12].lower() == b"return-path:"
        if not skipping:
            kept.append(line)
    return b"\r\n".join(kept) + raw[end:] if end else raw


def _clean(text: str, limit: int = 255, junk: re.Pattern[bytes] = _HOSTNAME_JUNK) -> str:
    cleaned = junk.sub(b"?", text.encode("utf-8", "surrogateescape")[:limit]).decode("ascii")
    return cleaned or "unknown"


def protocol_name(esmtp: bool, tls: bool, authenticated: bool, smtputf8: bool) -> str:
    """The ``with`` clause (RFC 3848, RFC 6531): SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTPSA …"""
    if not esmtp:
        return "SMTP"
    suffix = ("S" if tls else "") + ("A" if authenticated else "")
    return ("UTF8SMTP" if smtputf8 else "ESMTP") + suffix


def received_header(
    *,
    helo: str,
    ip: str,
    hostname: str,
    protocol: str,
    queue_id: str,
    tls: str = "",
    auth_user: str = "",
    recipients: list[str] | None = None,
    when: datetime | None = None,
) -> bytes:
    """A Postfix-shaped ``Received:`` field, CRLF-terminated, folded over several lines.

    ``tls`` is e.g. ``"TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"``.
    The recipient is named only when there is exactly one (as Postfix does).
    """
    when = when or datetime.now(UTC)
    lines = [f"Received: from {_clean(helo)} (unknown [{_clean(ip, 64)}])"]
    if tls:
        lines.append(f"\t(using {tls})")
    if auth_user:
        lines.append(f"\t(Authenticated sender: {_clean(auth_user, 320, _ADDRESS_JUNK)})")
    lines.append(f"\tby {_clean(hostname)} (mailappliance) with {protocol} id {queue_id}")
    stamp = format_datetime(when)
    if recipients and len(recipients) == 1 and "\r" not in recipients[0] and "\n" not in recipients[0]:
        lines.append(f"\tfor <{recipients[0]}>; {stamp}")
    else:
        lines[-1] += ";"
        lines.append(f"\t{stamp}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "surrogateescape")


def tls_description(version: str | None, cipher: tuple[str, str, int] | None) -> str:
    """``"TLSv1.3 with cipher NAME (256/256 bits)"`` from ``ssl.SSLObject`` facts, "" without TLS."""
    if not version:
        return ""
    if not cipher:
        return version
    name, _, bits = cipher
    return f"{version} with cipher {name} ({bits}/{bits} bits)"


def _has_field(head: bytes, name: bytes) -> bool:
    prefix = name.lower() + b":"
    return any(line[: len(prefix)].lower() == prefix for line in head.split(b"\r\n"))


def add_missing_msa_fields(raw: bytes, *, hostname: str, queue_id: str, now: datetime | None = None) -> bytes:
    """``raw`` with ``Date:`` and ``Message-ID:`` appended to its header when missing (RFC 6409 §8.2, §8.3).

    What Postfix's cleanup does for its own clients: a message submitted without them
    is otherwise refused by large receivers. Only for submission (587/465, or an
    authenticated client); mail arriving at the MX is passed on as it came.
    """
    end = header_end(raw)
    head = raw[:end]
    added = []
    stamp = now or datetime.now(UTC)
    if not _has_field(head, b"date"):
        added.append(b"Date: " + format_datetime(stamp).encode())
    if not _has_field(head, b"message-id"):
        host = _clean(hostname)
        added.append(f"Message-ID: <{stamp:%Y%m%d%H%M%S}.{_clean(queue_id)}@{host}>".encode())
    if not added:
        return raw
    return head + b"".join(line + b"\r\n" for line in added) + raw[end:]
