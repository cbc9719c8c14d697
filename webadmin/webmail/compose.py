"""Writing mail: validate what the user typed, build the message, queue it, keep copies.

Messages are built with ``email.message.EmailMessage`` (policy=default), and every
header field is checked first by :func:`mailcore.headersafe.check_header_value`, which also
decodes RFC 2047 encoded words (the generator would write out a newline hidden in one),
so no field can smuggle a header. Sending
is an authenticated submission through :func:`agents.queue.submit` after the one
submission policy (``agents.queue.submission``: sender rights, rate and recipient
limits, size, the account guard), which refuses with the same reply as port 587.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import formatdate, getaddresses, make_msgid

from django.conf import settings

from agents.queue import Envelope, submission
from mailcore import headersafe
from mailcore.addresses import AddressError, split_address

from . import render

MAX_RECIPIENTS_FIELD = 8000  # characters in one of To/Cc/Bcc
MAX_SUBJECT = 998
_UNFOLD = re.compile(r"\r?\n(?=[ \t])")


class ComposeError(ValueError):
    """What the user typed cannot be sent as it is; the message says what to fix."""


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Draft:
    """The compose form's content, already free of header injection."""

    from_addr: str
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    in_reply_to: str = ""
    references: str = ""
    attachments: list[Upload] = field(default_factory=list)
    forwarded: list[bytes] = field(default_factory=list)  # whole messages attached as message/rfc822


def check_header_field(label: str, value: str, limit: int = MAX_SUBJECT) -> str:
    """Refuse CR, LF and other control characters, raw or inside an encoded word (header
    injection), and oversize values."""
    try:
        headersafe.check_header_value(label, value)
    except headersafe.UnsafeHeaderValue as exc:
        raise ComposeError(str(exc)) from exc
    if len(value or "") > limit:
        raise ComposeError(f"{label} is too long.")
    return (value or "").strip()


def parse_addresses(label: str, value: str) -> list[Address]:
    """The addresses of a To/Cc/Bcc field, each checked; raises ComposeError naming the bad one."""
    value = check_header_field(label, value, MAX_RECIPIENTS_FIELD)
    if not value:
        return []
    out: list[Address] = []
    for name, addr in getaddresses([value]):
        if not addr and not name:
            continue
        try:
            local, domain = split_address(addr)
        except AddressError as exc:
            raise ComposeError(f"{label}: “{addr or name}” is not a mail address ({exc})") from exc
        try:
            out.append(Address(display_name=name, username=local, domain=domain))
        except (ValueError, TypeError) as exc:
            raise ComposeError(f"{label}: “{addr}” is not a mail address.") from exc
    if len(out) > settings.MAILAPP_MAX_RECIPIENTS:
        raise ComposeError(f"{label}: at most {settings.MAILAPP_MAX_RECIPIENTS} recipients.")
    return out


def envelope_address(address: Address) -> str:
    return f"{address.username}@{address.domain}"


def clean_draft(draft: Draft) -> Draft:
    """Check every field (raises ComposeError); the draft is returned unchanged if it is fine."""
    for label, value in (("From", draft.from_addr), ("In-Reply-To", draft.in_reply_to)):
        check_header_field(label, value)
    check_header_field("References", draft.references, MAX_RECIPIENTS_FIELD)
    draft.subject = check_header_field("Subject", draft.subject)
    for label, value in (("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc)):
        parse_addresses(label, value)
    for upload in draft.attachments:
        check_header_field("An attachment's file name", upload.filename, 255)
    return draft


def build_message(draft: Draft, *, sender_name: str, include_bcc: bool) -> EmailMessage:
    """The message as it is sent (``include_bcc`` False) or kept in Sent/Drafts (True)."""
    clean_draft(draft)
    local, domain = split_address(draft.from_addr)
    msg = EmailMessage(policy=policy.default)
    msg["From"] = Address(display_name=check_header_field("Name", sender_name, 200), username=local, domain=domain)
    for header, value in (("To", draft.to), ("Cc", draft.cc)) + ((("Bcc", draft.bcc),) if include_bcc else ()):
        addresses = parse_addresses(header, value)
        if addresses:
            msg[header] = addresses
    if draft.subject:
        msg["Subject"] = draft.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=domain)
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        msg["References"] = draft.references
    msg["MIME-Version"] = "1.0"
    msg["User-Agent"] = "mailappliance webmail"
    msg.set_content(draft.body.replace("\r\n", "\n") or "\n")
    for upload in draft.attachments:
        maintype, _, subtype = upload.content_type.partition("/")
        msg.add_attachment(upload.data, maintype=maintype, subtype=subtype, filename=upload.filename)
    for raw in draft.forwarded:
        original = render.parse(raw)
        _check_forwarded(original)
        name = (render.header_text(original, "subject") or "message")[:80]
        msg.add_attachment(original, filename=render.filename_of_text(name) + ".eml")
    return msg


def _check_forwarded(original: Message) -> None:
    """The generator refolds the attached message's headers (and its parts') too: one whose
    encoded word hides a newline would come out as an extra header line inside it."""
    for part in original.walk():
        for name, value in part.raw_items():
            if headersafe.is_unsafe(_UNFOLD.sub("", str(value))):
                raise ComposeError(f"The forwarded message's {name} header cannot be sent on; forward it inline.")


def to_bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes(policy=policy.default.clone(linesep="\r\n"))
    except (UnicodeEncodeError, ValueError):  # a non-ASCII local part needs SMTPUTF8
        return msg.as_bytes(policy=policy.SMTPUTF8.clone(linesep="\r\n"))


def upload_from_file(name: str, data: bytes) -> Upload:
    """An upload with a safe file name and a type from its extension (the browser's claim is not trusted)."""
    filename = "".join("_" if ch in "/\\" or ord(ch) < 32 or ch == "\x7f" else ch for ch in name).strip() or "file"
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Upload(filename[:255], content_type, data)


@dataclass
class Sent:
    queue_id: str
    raw_for_sent: bytes
    recipients: list[str]


def send(address: str, sender_name: str, draft: Draft, client_ip: str) -> Sent:
    """Queue ``draft`` as an authenticated submission by ``address``; returns the queue id and Sent copy.

    Raises ComposeError when a field is wrong, there is no recipient, or the submission
    policy refuses (sender rights, rate or recipient limits, size, a suspended account):
    then the error holds the reply SMTP gives in the same case.
    """
    clean_draft(draft)
    recipients: list[str] = []
    for label, value in (("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc)):
        for addr in parse_addresses(label, value):
            if envelope_address(addr).lower() not in {r.lower() for r in recipients}:
                recipients.append(envelope_address(addr))
    if not recipients:
        raise ComposeError("Add at least one recipient.")
    outgoing = build_message(draft, sender_name=sender_name, include_bcc=False)
    raw = to_bytes(outgoing)
    kept = outgoing
    if draft.bcc:
        kept = build_message(draft, sender_name=sender_name, include_bcc=True)
        kept.replace_header("Message-ID", outgoing["Message-ID"])
        kept.replace_header("Date", outgoing["Date"])
    local, domain = split_address(draft.from_addr)
    envelope = Envelope(
        sender=f"{local}@{domain}",
        recipients=recipients,
        source="webmail",
        client_address=client_ip,
        client_name="webmail",
        auth_user=address,
    )
    client = submission.Client(source="webmail", auth_user=address, client_address=client_ip, client_name="webmail")
    try:
        queue_id = submission.default_policy().submit(raw, envelope, client)
    except submission.Refused as exc:
        if exc.rule == "sender-rights":
            raise ComposeError(f"You may not send as {draft.from_addr}. ({exc.reply})") from exc
        raise ComposeError(f"Not sent: {exc.reply}") from exc
    return Sent(queue_id, to_bytes(kept), recipients)


# --- replies and forwards -----------------------------------------------------------------


def _prefixed(prefix: str, subject: str) -> str:
    return subject if subject.lower().startswith(prefix.lower()) else f"{prefix} {subject}".strip()


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.replace("\r\n", "\n").split("\n"))


def _form_address(name: str, addr: str) -> str:
    """``Name <addr>`` as the compose form shows it, the name quoted (and left readable,
    not RFC 2047-encoded) when it holds specials such as "," or ":"."""
    if not name:
        return addr
    if re.search(r'[()<>\[\]:;@\\,."]', name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{addr}>"


def _raw_header(msg: Message, name: str) -> str:
    """A header's text as it came (encoded words not decoded), folding removed."""
    values = [str(v) for k, v in msg.raw_items() if k.lower() == name]
    text = ", ".join(_UNFOLD.sub("", v) for v in values)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # raw 8-bit headers


def _reply_addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of header ``name``, parsed before decoding: a decoded
    display name holding ":" or "," must not turn into recipients of its own. Invalid
    addresses are left out; a name that decodes to control characters is dropped (the
    address is kept)."""
    out = []
    for display, addr in getaddresses([_raw_header(msg, name)]):
        try:
            split_address(addr)
        except AddressError:  # e.g. the tail of an encoded word the parser took for a group
            continue
        display = render.header_text_value(display) if display else ""
        out.append(("" if headersafe.is_unsafe(display) else " ".join(display.split()), addr))
    return out


def reply_fields(raw: bytes, own_addresses: set[str], *, reply_all: bool) -> dict[str, str]:
    """Initial compose fields for a reply (or reply-all) to ``raw``."""
    msg = render.parse(raw)
    shown = render.render(raw)
    targets = _reply_addresses(msg, "reply-to") or _reply_addresses(msg, "from")
    to = [_form_address(*pair) for pair in targets]
    cc: list[str] = []
    if reply_all:
        own = {a.lower() for a in own_addresses}
        seen = {addr.lower() for _name, addr in targets} | own
        for header, bucket in (("to", to), ("cc", cc)):
            for name, addr in _reply_addresses(msg, header):
                if addr.lower() not in seen:
                    seen.add(addr.lower())
                    bucket.append(_form_address(name, addr))
    message_id = render.header_text(msg, "message-id")
    references = " ".join(x for x in (render.header_text(msg, "references"), message_id) if x)
    body_text = shown.text if shown.text is not None else _html_as_text(shown.html or "")
    intro = f"On {shown.date}, {shown.from_} wrote:" if shown.date else f"{shown.from_} wrote:"
    return {
        "to": ", ".join(to),
        "cc": ", ".join(cc),
        "subject": _prefixed("Re:", shown.subject),
        "body": f"\n\n{intro}\n{_quote(body_text)}\n",
        "in_reply_to": headersafe.safe_or(message_id, ""),
        "references": headersafe.safe_or(references, ""),
    }


def forward_fields(raw: bytes) -> dict[str, str]:
    """Initial compose fields for an inline forward of ``raw``."""
    shown = render.render(raw)
    body_text = shown.text if shown.text is not None else _html_as_text(shown.html or "")
    header = "\n".join(
        f"{label}: {value}"
        for label, value in (("From", shown.from_), ("Date", shown.date), ("Subject", shown.subject), ("To", shown.to))
        if value
    )
    return {
        "subject": _prefixed("Fwd:", shown.subject),
        "body": f"\n\n---------- Forwarded message ----------\n{header}\n\n{body_text}\n",
    }


def draft_fields(raw: bytes) -> dict[str, str]:
    """The compose fields of a saved draft, to continue writing it."""
    msg = render.parse(raw)
    shown = render.render(raw)
    return {
        "to": shown.to,
        "cc": shown.cc,
        "bcc": render.header_text(msg, "bcc"),
        "subject": shown.subject,
        "body": shown.text or "",
        "in_reply_to": render.header_text(msg, "in-reply-to"),
        "references": render.header_text(msg, "references"),
    }


def _html_as_text(html: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>", "\n", html)
    text = re.sub(r"<[^>]+>", "", text)
    import html as html_lib

    return html_lib.unescape(text).strip()


def kept_parts(raw: bytes, part_ids: list[int]) -> list[Upload]:
    """Attachments of a source message (a draft being continued, a forwarded mail) to carry over."""
    wanted = set(part_ids)
    out: list[Upload] = []
    for number, part in render.walk(render.parse(raw)):
        if number in wanted:
            out.append(Upload(render.filename_of(part, number), part.get_content_type(), render.part_bytes(part)))
    return out
