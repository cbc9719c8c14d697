"""ENVELOPE, BODYSTRUCTURE and list headers, computed once when a message is stored.

The results are plain JSON values (lists, dicts, strings, ints, None) kept in
the index, so IMAP FETCH and webmail lists never open message files. Shapes are
documented in docs/internals.md ("agents.store", cached MIME data). Nothing here
raises on bad input.

Parts come from ``mimetree`` (one byte-level parser with Dovecot's caps on depth and
part count, shared with IMAP's ``BODY[section]`` and SEARCH), addresses from
``addresses``; every walk is iterative, so a hostile message costs bounded work and
keeps its own ENVELOPE whatever is nested below it. ``STRUCTURE_VERSION`` is stored
in the top BODYSTRUCTURE node; rows summarised by older code are summarised again
when read (``Folder``), never served in the old shape.
"""

from __future__ import annotations

import binascii
import email.utils
import quopri
import re
from datetime import UTC
from email.header import decode_header, make_header
from typing import Any, NamedTuple

from . import mimetree
from .addresses import MISSING_DOMAIN, MISSING_MAILBOX, address_list

Json = Any
MAX_LIST_TEXT = 4_096  # characters of a decoded header kept for lists and search
# 2: own MIME parser (caps, RFC 2231, digest, source routes, raw names, group names in list headers)
STRUCTURE_VERSION = 2
_FOLD = re.compile(r"\r?\n(?=[ \t])")
__all__ = ["MISSING_DOMAIN", "MISSING_MAILBOX", "STRUCTURE_VERSION", "Summary", "current", "searchable_text",
           "summarize"]


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


def _headers(raw: bytes, start: int, end: int) -> dict[str, str]:
    """First raw (undecoded) value per header name, lowercased and cleaned; as IMAP ENVELOPE wants them."""
    return {k: clean(v) or "" for k, v in mimetree.header_fields(raw, start, end).items()}


def envelope(headers: dict[str, str]) -> Json:
    """IMAP ENVELOPE as a list of 10: date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to, message-id."""
    from_ = address_list(headers.get("from"))
    sender = address_list(headers.get("sender")) or from_
    reply_to = address_list(headers.get("reply-to")) or from_
    return [
        headers.get("date"),
        headers.get("subject"),
        from_,
        sender,
        reply_to,
        address_list(headers.get("to")),
        address_list(headers.get("cc")),
        address_list(headers.get("bcc")),
        headers.get("in-reply-to"),
        headers.get("message-id"),
    ]


def _pairs(params: list[tuple[str, str]]) -> list[list[str]] | None:
    out = [[name, clean(value) or ""] for name, value in params]
    return out or None


def _disposition(part: mimetree.Part) -> Json:
    value = part.fields.get("content-disposition")
    if value is None:
        return None
    kind, params = mimetree.disposition(value)
    return [kind, _pairs(params)] if kind else None


def _languages(value: str | None) -> list[str] | None:
    """Content-Language as the list IMAP wants (``en, de`` -> ``["en", "de"]``)."""
    tags = [t.strip() for t in (clean(value) or "").split(",") if t.strip()]
    return tags or None


def _node(raw: bytes, part: mimetree.Part, built: dict[int, Json]) -> Json:
    """BODYSTRUCTURE dict of one part, its children already in ``built`` (by id)."""
    fields = part.fields
    common = {
        "disposition": _disposition(part),
        "language": _languages(fields.get("content-language")),
        "location": clean(fields.get("content-location")),
    }
    if part.kind == "multipart":
        return _compact({"type": "multipart", "subtype": part.subtype, "parts": [built[id(c)] for c in part.children],
                         "params": _pairs(part.params), **common})
    lines = raw.count(b"\n", part.body, part.end)
    extra: dict[str, Json] = {}
    if part.kind == "message":
        child = part.children[0]
        extra = {"envelope": envelope(_headers(raw, child.start, child.body)), "body": built[id(child)],
                 "lines": lines}
    elif part.maintype == "text":
        extra = {"lines": lines}
    params = _pairs(part.params)
    if part.maintype == "text" and not any(k == "charset" for k, _ in params or []):
        params = (params or []) + [["charset", "us-ascii"]]
    return _compact({
        "type": part.maintype,
        "subtype": part.subtype,
        "params": params,
        "id": clean(fields.get("content-id")),
        "description": clean(fields.get("content-description")),
        "encoding": (clean(fields.get("content-transfer-encoding")) or "7bit").upper(),
        "size": part.end - part.body,
        "md5": clean(fields.get("content-md5")),
        **extra,
        **common,
    })


def _compact(node: dict[str, Json]) -> dict[str, Json]:
    """Keys whose value is null are left out (readers use ``.get``): a 10,000-part message stays small."""
    return {key: value for key, value in node.items() if value is not None}


def bodystructure(raw: bytes, root: mimetree.Part) -> Json:
    """BODYSTRUCTURE of the tree as nested dicts (see docs/internals.md), built bottom-up without recursion."""
    built: dict[int, Json] = {}
    for part in reversed(list(mimetree.walk(root))):
        built[id(part)] = _node(raw, part, built)
    top = built[id(root)]
    top["v"] = STRUCTURE_VERSION
    return top


def current(structure: Json) -> bool:
    """Whether a cached BODYSTRUCTURE was made by this code (else summarise the message again)."""
    return isinstance(structure, dict) and structure.get("v") == STRUCTURE_VERSION


def decoded(value: str | None) -> str:
    """A header value as readable text (RFC 2047 words decoded), for lists and search."""
    if not value:
        return ""
    try:
        return clean(str(make_header(decode_header(value)))) or ""
    except Exception:
        return clean(value) or ""


def _has_attachments(root: mimetree.Part) -> bool:
    for part in mimetree.walk(root):
        if part.kind != "leaf" or part is root:
            continue
        kind, params = mimetree.disposition(part.fields.get("content-disposition") or "")
        if kind == "attachment":
            return True
        if any(name in ("filename", "filename*") for name, _ in params):
            return True
        if any(name in ("name", "name*") for name, _ in part.params):
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


def summarize(raw: bytes, root: mimetree.Part | None = None) -> Summary:
    """Parse ``raw`` once and return everything the index caches; never raises, bounded work.

    ``root``: its part tree, when the caller parsed it already (a delivery shares it with the
    full-text extraction)."""
    if root is None:
        root = mimetree.parse(raw)
    headers = _headers(raw, 0, root.body)
    env = envelope(headers)
    return Summary(
        envelope=env,
        bodystructure=bodystructure(raw, root),
        from_=_display(env[2]),
        to=_display(env[5]),
        cc=_display(env[6]),
        subject=decoded(headers.get("subject", "")[:MAX_LIST_TEXT]),
        date=_date(headers.get("date")),
        message_id=headers.get("message-id", "")[:MAX_LIST_TEXT],
        in_reply_to=headers.get("in-reply-to", "")[:MAX_LIST_TEXT],
        has_attachments=_has_attachments(root),
    )


def _display(addresses: Json) -> str:
    """``Name <user@host>, group: ...;`` with names decoded, for lists and header search (groups keep their name)."""
    if not addresses:
        return ""
    out = []
    for name, _adl, mailbox, host in addresses:
        if host is None:  # group start (name in the mailbox slot) or end marker
            out.append(f"{decoded(mailbox)}:" if mailbox is not None else ";")
            continue
        addr = mailbox if host == MISSING_DOMAIN else f"{mailbox}@{host}"
        out.append(f"{decoded(name)} <{addr}>" if name else addr)
        if sum(len(x) + 2 for x in out) > MAX_LIST_TEXT:
            break
    return ", ".join(out).replace(":, ", ": ").replace(", ;", ";")[:MAX_LIST_TEXT]


def _decode_leaf(raw: bytes, part: mimetree.Part) -> str:
    """A text part's body, transfer encoding and charset undone (bad input decoded leniently)."""
    data = raw[part.body : part.end]
    encoding = (part.fields.get("content-transfer-encoding") or "").strip().lower()
    try:
        if encoding == "base64":
            data = binascii.a2b_base64(re.sub(rb"[^A-Za-z0-9+/=]", b"", data) + b"==")
        elif encoding == "quoted-printable":
            data = quopri.decodestring(data)
    except (binascii.Error, ValueError):
        pass
    charset = dict(part.params).get("charset", "utf-8") or "utf-8"
    try:
        return data.decode(charset, "replace")
    except (LookupError, ValueError):  # unknown charset, or a name Python refuses (NUL inside)
        return data.decode("utf-8", "replace")


def searchable_text(raw: bytes, body_only: bool) -> str:
    """Text for SEARCH BODY/TEXT: the message as written, then each text part decoded.

    Bounded like the summary: the same capped part tree, so a MIME bomb costs one pass.
    """
    root = mimetree.parse(raw)
    plain = raw[root.body :] if body_only else raw
    chunks = [plain.decode("utf-8", "replace")]
    for part in mimetree.walk(root):
        if part.kind == "leaf" and part.maintype == "text":
            chunks.append(_decode_leaf(raw, part))
    return "\n".join(chunks)
