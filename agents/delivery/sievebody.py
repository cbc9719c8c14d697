"""What a Sieve ``body`` test (RFC 5173) compares its keys with: the body after its transform.

Pure (no Django, no store). ``:raw`` is the undecoded body as one string; ``:text`` the
decoded text parts joined; ``:content`` (section 5) the MIME parts of the given types,
each its own string, so a key matches only inside a part of a wanted type:

- ``"text/html"`` names one type, ``"text"`` every subtype of it, ``""`` every part; a
  type that begins or ends with ``/`` or holds two slashes names none;
- the search descends into multipart and ``message/rfc822`` parts; a matched multipart
  gives its prologue and its epilogue (not its nested parts, which are searched only if
  their own type matches), a matched ``message/rfc822`` its header block;
- text parts are decoded (transfer encoding and charset); other parts are searched as
  their decoded octets, so ``:content "image"`` never matches the words of a text part.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage, Message

MAX_BODY = 1 << 20  # bytes of body a body test looks at


def body_values(raw: bytes, transform: str, types: list[str] | None = None) -> list[str]:
    """The strings one ``body`` test matches its keys against (any one matching is enough)."""
    raw = raw[:MAX_BODY * 2]
    if transform == ":raw":
        end = raw.find(b"\r\n\r\n")
        end, skip = (end, 4) if end >= 0 else (raw.find(b"\n\n"), 2)
        return [raw[end + skip:][:MAX_BODY].decode("utf-8", "replace") if end >= 0 else ""]
    parsed = message_from_bytes(raw, policy=policy.default)
    if transform == ":content":
        wanted = [_type_spec(t) for t in (types or [])]
        values: list[str] = []
        _content(parsed, wanted, values)
        return [v[:MAX_BODY] for v in values]
    texts = [_decoded(part) for part in parsed.walk()
             if part.get_content_maintype() == "text" and not part.is_multipart()]
    return ["\n".join(texts)[:MAX_BODY]]


def _type_spec(text: str) -> tuple[str, str] | None:
    """(type, subtype or "") of one :content argument; None for one that names no type."""
    text = text.strip().lower()
    if text.startswith("/") or text.endswith("/") or text.count("/") > 1:
        return None
    kind, _, sub = text.partition("/")
    return kind, sub


def _wanted(part: Message, wanted: list[tuple[str, str] | None]) -> bool:
    kind, sub = part.get_content_maintype().lower(), part.get_content_subtype().lower()
    for spec in wanted:
        if spec is None:
            continue
        if spec[0] == "" or (spec[0] == kind and spec[1] in ("", sub)):
            return True
    return False


def _content(part: Message, wanted: list[tuple[str, str] | None], out: list[str]) -> None:
    is_message = part.get_content_type() == "message/rfc822"
    if part.is_multipart() and not is_message:
        if _wanted(part, wanted):
            out.extend(s for s in (part.preamble, part.epilogue) if s is not None)
        for child in part.get_payload():
            if isinstance(child, Message):
                _content(child, wanted, out)
        return
    if is_message:
        inner = part.get_payload()
        nested = inner[0] if isinstance(inner, list) and inner and isinstance(inner[0], Message) else None
        if _wanted(part, wanted) and nested is not None:
            out.append("".join(f"{k}: {v}\n" for k, v in nested.items()))
        if nested is not None:
            _content(nested, wanted, out)
        return
    if _wanted(part, wanted):
        out.append(_decoded(part))


def _decoded(part: Message) -> str:
    """A part's content: text as text (charset applied), anything else as its decoded octets."""
    if part.get_content_maintype() == "text" and isinstance(part, EmailMessage):
        try:
            return str(part.get_content())
        except Exception:  # an unknown charset or a broken encoding: the octets, leniently
            pass
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
