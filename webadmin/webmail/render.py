"""Turn a stored message into something safe to show: decoded headers, text, sanitised HTML, parts.

Pure functions over bytes (no Django, no store), so the hostile-input tests can
drive them directly. Nothing here raises on a malformed message: broken headers
read as their raw text, unknown charsets fall back to UTF-8 with replacement.

HTML is cleaned with nh3 (an allow-list: no scripts, event handlers, forms,
frames, ``<base>``, ``<meta>``, ``<link>``, ``<style>`` blocks, SVG or
``javascript:``/``data:`` links) and is then only ever shown inside a sandboxed
frame served with its own strict Content-Security-Policy — two fences, so a
sanitiser bug alone runs no script.
"""

from __future__ import annotations

import base64
import email
import email.utils
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message

import nh3

MAX_HTML = 2 * 1024 * 1024  # characters of HTML we sanitise; the rest is cut off
MAX_INLINE_IMAGE = 1024 * 1024  # cid: images larger than this are not inlined as data: URLs
INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}

ALLOWED_TAGS = {
    "a", "abbr", "address", "b", "big", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span",
    "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
    "var",
}  # fmt: skip
GENERIC_ATTRIBUTES = {"align", "valign", "dir", "lang", "title", "style", "width", "height", "bgcolor", "color"}
ALLOWED_ATTRIBUTES = {
    "*": GENERIC_ATTRIBUTES,
    "a": {"href", "name"},
    "img": {"src", "alt", "border"},
    "font": {"face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "summary"},
    "td": {"colspan", "rowspan", "nowrap"},
    "th": {"colspan", "rowspan", "nowrap", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "li": {"value"},
}
# Presentation only: nothing that positions over the page, loads a URL or changes the cursor.
STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight",
    "text-align", "text-decoration", "text-indent", "text-transform", "line-height", "letter-spacing",
    "white-space", "vertical-align", "width", "max-width", "min-width", "height", "margin", "margin-top",
    "margin-bottom", "margin-left", "margin-right", "padding", "padding-top", "padding-bottom",
    "padding-left", "padding-right", "border", "border-top", "border-bottom", "border-left", "border-right",
    "border-color", "border-style", "border-width", "border-collapse", "border-spacing", "border-radius",
    "display", "float", "clear", "list-style-type", "direction",
}  # fmt: skip
# In a style value, after comments, escapes and blanks are taken out: script (IE's
# expression(), behavior:, Firefox's -moz-binding, javascript:/vbscript: URLs) or any url()
# (no allowed property needs one, and it would load a remote resource past the image setting).
_CSS_DANGER = re.compile(r"expression\(|behavior|binding|javascript:|vbscript:|url\(|@import|image\(|image-set\(")
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.S)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\r\n\f]?|(.))", re.S)


def _css_unescaped(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1):
            code = int(match.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        return match.group(2)

    return _CSS_ESCAPE.sub(one, value)


def safe_style(value: str) -> str:
    """The declarations of a ``style`` attribute that hold nothing a browser could run or load.

    nh3 keeps allowed *properties* whatever their value; this drops each declaration whose
    value, read as a browser would (comments removed, CSS escapes decoded, Unicode
    compatibility forms folded, blanks removed, lowercased), holds script or a URL.
    """
    kept = []
    for declaration in _CSS_COMMENT.sub(" ", value).split(";"):
        plain = unicodedata.normalize("NFKC", _css_unescaped(declaration))
        plain = re.sub(r"[\s\x00]+", "", plain).lower()
        if plain and not _CSS_DANGER.search(plain):
            kept.append(declaration.strip())
    return "; ".join(kept)


# Active content a browser would run or render as a page if shown inline.
ACTIVE_TYPES_PREFIXES = ("text/", "image/svg", "application/", "multipart/", "message/", "model/", "video/", "audio/")


@dataclass
class Attachment:
    part_id: int
    filename: str
    content_type: str
    size: int


@dataclass
class Rendered:
    subject: str = ""
    from_: str = ""
    to: str = ""
    cc: str = ""
    reply_to: str = ""
    date: str = ""
    message_id: str = ""
    text: str | None = None
    html: str | None = None
    remote_images: int = 0  # remote images found (blocked unless allowed)
    attachments: list[Attachment] = field(default_factory=list)


def parse(raw: bytes) -> EmailMessage:
    """The message as an EmailMessage (policy=default); never raises."""
    try:
        return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]
    except Exception:  # pragma: no cover - the parser is lenient; last resort
        return email.message_from_bytes(b"", policy=policy.default)  # type: ignore[return-value]


def header_text(msg: Message, name: str) -> str:
    """A header as readable text: RFC 2047 words decoded, folding and control characters removed."""
    try:
        value = msg.get(name)
    except Exception:  # a header the policy cannot parse
        value = None
        for key, raw in msg.raw_items():
            if key.lower() == name.lower():
                value = raw
                break
    if value is None:
        return ""
    text = str(value)
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except Exception:
            pass
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(" " if ch in "\r\n\t" else ch for ch in text if ch >= " " or ch in "\r\n\t").strip()


def walk(msg: Message) -> Iterator[tuple[int, Message]]:
    """Leaf parts with stable numbers; an attached message (message/rfc822) is one leaf."""
    number = 0

    def visit(part: Message) -> Iterator[tuple[int, Message]]:
        nonlocal number
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            for child in part.get_payload():  # type: ignore[union-attr]
                if isinstance(child, Message):
                    yield from visit(child)
            return
        number += 1
        yield number, part

    yield from visit(msg)


def part_bytes(part: Message) -> bytes:
    """The decoded content of a leaf part (an attached message as its raw bytes)."""
    if part.get_content_type() == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            try:
                return inner.as_bytes(policy=policy.default.clone(linesep="\r\n"))
            except Exception:
                return str(inner).encode("utf-8", "replace")
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "replace") if isinstance(payload, str) else b""


def part_text(part: Message) -> str:
    """A text part decoded with its charset (unknown or lying charsets fall back gracefully)."""
    data = part_bytes(part)
    charset = part.get_content_charset() or "us-ascii"
    for candidate in (charset, "utf-8"):
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):  # ValueError: a NUL in the charset name
            continue
    return data.decode("windows-1252", "replace")


def filename_of(part: Message, number: int) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    name = header_text_value(name) if name else ""
    if not name:
        ctype = part.get_content_type()
        extension = {"message/rfc822": ".eml", "text/plain": ".txt", "text/html": ".html"}.get(ctype, "")
        name = f"part-{number}{extension}"
    # No path separators or control characters ever leave this function.
    return filename_of_text(name) or f"part-{number}"


def filename_of_text(name: str) -> str:
    """``name`` made safe as a file name: no path separators, quotes or control characters."""
    name = "".join("_" if ch in '/\\"' or ch < " " or ch == "\x7f" else ch for ch in name).strip(". ")
    return name[:200]


def header_text_value(value: str) -> str:
    if "=?" in value:
        try:
            return str(make_header(decode_header(value)))
        except Exception:
            return value
    return value


def is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
    except Exception:
        disposition = None
    if disposition == "attachment":
        return True
    try:
        return bool(part.get_filename())
    except Exception:
        return False


def render(raw: bytes, *, allow_remote_images: bool = False) -> Rendered:
    """Everything the reading view shows, from the raw message."""
    msg = parse(raw)
    out = Rendered(
        subject=header_text(msg, "subject"),
        from_=header_text(msg, "from"),
        to=header_text(msg, "to"),
        cc=header_text(msg, "cc"),
        reply_to=header_text(msg, "reply-to"),
        date=header_text(msg, "date"),
        message_id=header_text(msg, "message-id"),
    )
    text_part = html_part = None
    cid_parts: dict[str, Message] = {}
    for number, part in walk(msg):
        ctype = part.get_content_type()
        content_id = str(part.get("content-id") or "").strip().strip("<>")
        if content_id:
            cid_parts[content_id] = part
        if not is_attachment(part):
            if ctype == "text/plain" and text_part is None:
                text_part = part
                continue
            if ctype == "text/html" and html_part is None:
                html_part = part
                continue
            if content_id and ctype.startswith("image/"):
                continue  # an inline image of the HTML body
        out.attachments.append(Attachment(number, filename_of(part, number), ctype, len(part_bytes(part))))
    if text_part is not None:
        out.text = part_text(text_part)
    if html_part is not None:
        out.html, out.remote_images = sanitize_html(
            part_text(html_part), allow_remote_images=allow_remote_images, cid_parts=cid_parts
        )
    return out


def _data_url(part: Message) -> str | None:
    ctype = part.get_content_type()
    if ctype not in INLINE_IMAGE_TYPES:
        return None
    data = part_bytes(part)
    if len(data) > MAX_INLINE_IMAGE:
        return None
    return f"data:{ctype};base64," + base64.b64encode(data).decode("ascii")


def sanitize_html(
    html: str, *, allow_remote_images: bool = False, cid_parts: dict[str, Message] | None = None
) -> tuple[str, int]:
    """Clean ``html`` with an allow-list; return (safe HTML, number of remote images seen).

    Links keep only http, https and mailto targets and open in a new browsing
    context; images keep ``cid:`` (inlined as a ``data:`` URL of a raster image),
    raster ``data:`` URLs, and remote URLs only when ``allow_remote_images``.
    """
    cid_parts = cid_parts or {}
    remote = 0

    def keep(tag: str, attribute: str, value: str) -> str | None:
        nonlocal remote
        if tag == "a" and attribute == "href":
            lowered = value.strip().lower()
            return value if lowered.startswith(("http://", "https://", "mailto:")) else None
        if tag == "img" and attribute == "src":
            stripped = value.strip()
            lowered = stripped.lower()
            if lowered.startswith(("http://", "https://", "//")):
                remote += 1
                return stripped if allow_remote_images and not lowered.startswith("//") else None
            if lowered.startswith("cid:"):
                part = cid_parts.get(stripped[4:].strip("<>"))
                return _data_url(part) if part is not None else None
            if lowered.startswith("data:"):
                mime = lowered[5:].split(";", 1)[0].split(",", 1)[0]
                return stripped if mime in INLINE_IMAGE_TYPES else None
            return None
        if attribute == "style":
            return safe_style(value)
        return value

    cleaned = nh3.clean(
        html[:MAX_HTML],
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "title", "template", "noscript", "textarea", "select", "svg", "math"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto", "cid", "data"},
        url_relative="deny",
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        filter_style_properties=STYLE_PROPERTIES,
        strip_comments=True,
    )
    return cleaned, remote


FRAME_STYLE = (
    "body{font-family:system-ui,sans-serif;font-size:15px;line-height:1.45;color:#1d2330;margin:12px;"
    "word-wrap:break-word;overflow-wrap:anywhere}img{max-width:100%;height:auto}"
    "table{max-width:100%}a{color:#1a56c4}"
)


def frame_document(clean_html: str) -> str:
    """The sandboxed frame's whole document around already-sanitised HTML."""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
        '<link rel="icon" href="data:,">'
        f"<style>{FRAME_STYLE}</style></head><body>{clean_html}</body></html>"
    )


def frame_csp(allow_remote_images: bool) -> str:
    """The Content-Security-Policy of the message frame: no script, no fetches, no forms."""
    images = "data:" + (" https: http:" if allow_remote_images else "")
    return (
        f"default-src 'none'; img-src {images}; style-src 'unsafe-inline'; font-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; "
        "sandbox allow-popups allow-popups-to-escape-sandbox"
    )


def is_active_type(content_type: str) -> bool:
    """True for types a browser would render as a document or run (always downloaded, never inline)."""
    return content_type.lower().startswith(ACTIVE_TYPES_PREFIXES) or "xml" in content_type.lower()


def content_disposition(filename: str, inline: bool = False) -> str:
    """RFC 6266 ``Content-Disposition`` with an ASCII fallback and a UTF-8 ``filename*``."""
    from urllib.parse import quote

    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;%' else "_" for ch in filename) or "download"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def date_display(value: str) -> str:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return value
    return parsed.strftime("%a, %d %b %Y %H:%M %z") if parsed else value
