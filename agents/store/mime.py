"""ENVELOPE, BODYSTRUCTURE and list headers, computed once when a message is stored.

The results are plain JSON values (lists, dicts, strings, ints, None) kept in
the index, so IMAP FETCH and webmail lists never open message files. Shapes are
documented in docs/internals.md ("agents.store", cached MIME data). Nothing here
raises on bad input: unparsable parts fall back to ``text/plain``.

The structure is parsed with ``policy.compat32`` (header values stay strings):
``policy.default`` parses every Content-Type it touches into objects, which
made a hostile 4,000-part message take seconds. ``policy.default``'s address
parser is still used, on its own, for the rare address lists with groups or
non-ASCII text.
"""

from __future__ import annotations

import email
import email.utils
import re
from datetime import UTC
from email import policy
from email.header import Header, decode_header, make_header
from email.message import Message
from typing import Any, NamedTuple

Json = Any
MAX_ADDRESS_TEXT = 65_536  # characters of an address header parsed at all
MAX_FULL_PARSE = 16_384  # characters of an address header given to the slow full parser
MAX_LIST_TEXT = 4_096  # characters of a decoded header kept for lists and search
# Placeholders Dovecot also uses, so an address never looks like IMAP group syntax (host NIL).
MISSING_MAILBOX, MISSING_DOMAIN = "MISSING_MAILBOX", "MISSING_DOMAIN"
MAX_PARAMS = 64  # parameters kept per Content-Type / Content-Disposition
_FOLD = re.compile(r"\r?\n(?=[ \t])")


class Summary(NamedTuple):
    """What the index keeps about one message besides flags and size."""

    envelope: Json
    bodystructure: Json
    from_: str
    to: str
    cc: str
    subject: str
    date: int | None  # the Date header as a UNIX time (UTC), None if missing or unparsable
    message_id: str
    in_reply_to: str
    has_attachments: bool


def clean(value: str | None) -> str | None:
    """Unfold a header value and turn undecodable (8-bit) bytes into valid text."""
    if value is None:
        return None
    value = _FOLD.sub("", str(value)).strip()
    # NUL may not appear in any IMAP string, not even a literal.
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "\ufffd")


def _raw_headers(msg: Message) -> dict[str, str]:
    """First raw (undecoded) value per header name, lowercased; as IMAP ENVELOPE wants them."""
    out: dict[str, str] = {}
    for name, value in msg.raw_items():
        key = str(name).lower()
        if key not in out:
            out[key] = clean(value if isinstance(value, str) else str(value)) or ""
    return out


def _encode_name(name: str | None) -> str | None:
    if not name:
        return None
    if name.isascii():
        return name
    return Header(name, "utf-8").encode()


def _addresses(msg: Message, header: str, raw: dict[str, str]) -> list[list[str | None]] | None:
    """IMAP address list ``[[name, adl, mailbox, host], ...]`` with group markers, or None.

    Plain ASCII lists without groups (nearly all mail) take the quick
    ``getaddresses`` path; the rest goes through the policy's full parser.
    """
    text = raw.get(header)
    if text is None:
        return None
    text = text[:MAX_ADDRESS_TEXT]  # a hostile 1 MB To: must not cost seconds; real lists are far shorter
    if text.isascii() and ":" not in text and ";" not in text:
        out = []
        for name, addr in email.utils.getaddresses([text]):
            if addr:
                local, at, host = addr.rpartition("@")
                mailbox, domain = (local, host) if at else (addr, "")
                out.append([name or None, None, mailbox or MISSING_MAILBOX, domain or MISSING_DOMAIN])
        return out or None
    return _addresses_full(header, text)


def _addresses_full(header: str, text: str) -> list[list[str | None]] | None:
    try:
        groups = policy.default.header_factory(header, text[:MAX_FULL_PARSE]).groups
    except Exception:  # a header the parser cannot make sense of
        return None
    if groups is None:
        return None
    out: list[list[str | None]] = []
    for group in groups:
        if group.display_name is not None:
            out.append([None, None, _encode_name(group.display_name) or "", None])
        for address in group.addresses:
            out.append(
                [
                    _encode_name(clean(address.display_name)),
                    None,
                    clean(address.username) or MISSING_MAILBOX,
                    clean(address.domain) or MISSING_DOMAIN,
                ]
            )
        if group.display_name is not None:
            out.append([None, None, None, None])
    return out or None


def envelope(msg: Message) -> Json:
    """IMAP ENVELOPE as a list of 10: date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to, message-id."""
    raw = _raw_headers(msg)
    from_ = _addresses(msg, "from", raw)
    sender = _addresses(msg, "sender", raw) or from_
    reply_to = _addresses(msg, "reply-to", raw) or from_
    return [
        raw.get("date"),
        raw.get("subject"),
        from_,
        sender,
        reply_to,
        _addresses(msg, "to", raw),
        _addresses(msg, "cc", raw),
        _addresses(msg, "bcc", raw),
        raw.get("in-reply-to"),
        raw.get("message-id"),
    ]


def _split_params(value: str) -> list[str]:
    """``a; b="x;y"; c`` -> ``["a", 'b="x;y"', "c"]``: split on semicolons outside quotes."""
    out: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            out.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    out.append("".join(current).strip())
    return out


def _params(part: Message, header: str) -> list[list[str]] | None:
    """Parameters as written (RFC 2231 ``name*`` ones left encoded, as Dovecot does): ASCII-safe for IMAP."""
    value = clean(part.get(header))
    if not value:
        return None
    out = []
    for item in _split_params(value)[1 : MAX_PARAMS + 1]:
        name, eq, text = item.partition("=")
        if not eq or not name.strip():
            continue
        out.append([name.strip().lower(), email.utils.unquote(text.strip())])
    return out or None


def _disposition(part: Message) -> Json:
    value = part.get("content-disposition")
    if value is None:
        return None
    try:
        kind = part.get_content_disposition() or (clean(str(value)) or "").split(";")[0].strip().lower()
    except Exception:
        return None
    return [kind, _params(part, "content-disposition")]


def _languages(value: str | None) -> list[str] | None:
    """Content-Language as the list IMAP wants (``en, de`` -> ``["en", "de"]``)."""
    tags = [t.strip() for t in (clean(value) or "").split(",") if t.strip()]
    return tags or None


def _body_bytes(part: Message) -> bytes:
    """The body as it is in the file. ``get_payload()`` would replace 8-bit bytes, changing the size."""
    payload = getattr(part, "_payload", None)
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    if isinstance(payload, bytes):
        return payload
    return b""


def _lines(data: bytes) -> int:
    """Text lines of a body, counted as line ends (as Dovecot does: a last unterminated line adds none)."""
    return data.count(b"\n")


def bodystructure(part: Message) -> Json:
    """BODYSTRUCTURE of ``part`` as nested dicts (see docs/internals.md for the keys)."""
    maintype = (part.get_content_maintype() or "text").lower()
    subtype = (part.get_content_subtype() or "plain").lower()
    common = {
        "disposition": _disposition(part),
        "language": _languages(part.get("content-language")),
        "location": clean(part.get("content-location")),
    }
    if part.is_multipart() and maintype == "multipart":
        return {
            "type": "multipart",
            "subtype": subtype,
            "parts": [bodystructure(p) for p in part.get_payload() if isinstance(p, Message)],
            "params": _params(part, "content-type"),
            **common,
        }
    if maintype == "message" and subtype == "rfc822" and part.is_multipart():
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        body = inner.as_bytes(policy=policy.compat32.clone(linesep="\r\n")) if isinstance(inner, Message) else b""
        nested = inner if isinstance(inner, Message) else email.message_from_bytes(b"", policy=policy.compat32)
        data = body
        extra = {"envelope": envelope(nested), "body": bodystructure(nested), "lines": _lines(data)}
    else:
        data = _body_bytes(part)
        extra = {"lines": _lines(data)} if maintype == "text" else {}
    params = _params(part, "content-type")
    if maintype == "text" and not any(k.lower() == "charset" for k, _ in params or []):
        params = (params or []) + [["charset", "us-ascii"]]
    return {
        "type": maintype,
        "subtype": subtype,
        "params": params,
        "id": clean(part.get("content-id")),
        "description": clean(part.get("content-description")),
        "encoding": (clean(part.get("content-transfer-encoding")) or "7bit").upper(),
        "size": len(data),
        "md5": clean(part.get("content-md5")),
        **extra,
        **common,
    }


def decoded(value: str | None) -> str:
    """A header value as readable text (RFC 2047 words decoded), for lists and search."""
    if not value:
        return ""
    try:
        return clean(str(make_header(decode_header(value)))) or ""
    except Exception:
        return clean(value) or ""


def _has_attachments(msg: Message) -> bool:
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment":
            return True
        if part.get_filename() and part is not msg:
            return True
    return False


def _date(value: str | None) -> int | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000": time zone unknown, take it as UTC
        return int(parsed.replace(tzinfo=UTC).timestamp())
    return int(parsed.timestamp())


def summarize(raw: bytes) -> Summary:
    """Parse ``raw`` once and return everything the index caches; never raises."""
    try:
        msg = email.message_from_bytes(raw, policy=policy.compat32)
        env = envelope(msg)
        structure = bodystructure(msg)
        attachments = _has_attachments(msg)
    except Exception:  # pragma: no cover - last resort for inputs the email package chokes on
        msg = email.message_from_bytes(b"", policy=policy.compat32)
        env = [None] * 10
        _, _, body = raw.partition(b"\r\n\r\n")
        structure = {
            "type": "text", "subtype": "plain", "params": [["charset", "us-ascii"]], "id": None,
            "description": None, "encoding": "7BIT", "size": len(body), "md5": None,
            "lines": body.count(b"\n"), "disposition": None, "language": None, "location": None,
        }  # fmt: skip
        attachments = False
    raw_headers = _raw_headers(msg)
    return Summary(
        envelope=env,
        bodystructure=structure,
        from_=_display(env[2]),
        to=_display(env[5]),
        cc=_display(env[6]),
        subject=decoded(raw_headers.get("subject", "")[:MAX_LIST_TEXT]),
        date=_date(raw_headers.get("date")),
        message_id=raw_headers.get("message-id", "")[:MAX_LIST_TEXT],
        in_reply_to=raw_headers.get("in-reply-to", "")[:MAX_LIST_TEXT],
        has_attachments=attachments,
    )


def _display(addresses: Json) -> str:
    """``Name <user@host>, ...`` with names decoded, for lists and header search."""
    if not addresses:
        return ""
    out = []
    for name, _adl, mailbox, host in addresses:
        if mailbox is None or host is None:  # group start/end markers, or a bare name
            continue
        addr = mailbox if host == MISSING_DOMAIN else f"{mailbox}@{host}"
        out.append(f"{decoded(name)} <{addr}>" if name else addr)
        if sum(len(x) + 2 for x in out) > MAX_LIST_TEXT:
            break
    return ", ".join(out)[:MAX_LIST_TEXT]
