"""The MIME part tree of a raw message, as byte offsets, with Dovecot's caps on size and depth.

One parser for everything that needs parts: the structure summarised at delivery
(``agents.store.mime``), ``BODY[section]`` cutting and SEARCH TEXT in IMAP. So part
numbers, boundaries and sizes agree everywhere, and a hostile message costs the same
bounded work in each.

Rules, as Dovecot 2.3 applies them (checked by ``tests/imap/test_dovecot_mime.py``):

- A part's header ends at the first empty line; a part that starts with one has an empty
  header; a part with no empty line is all header and has an empty body.
- ``multipart/*`` bodies are split at lines starting with ``--boundary``; the line break
  before a delimiter belongs to it; ``--boundary--`` ends the list; without it the last part
  runs to the end of its parent. Folded header lines are unfolded first, and RFC 2231
  continuations (``boundary*0=``, ``boundary*1=``) are joined.
- ``message/rfc822`` has one child: the enclosed message. In ``multipart/digest`` a part
  without Content-Type is ``message/rfc822``.
- At most ``MAX_DEPTH`` levels and ``MAX_PARTS`` parts (Dovecot's
  ``MESSAGE_PARSER_DEFAULT_MAX_NESTED_MIME_PARTS`` and ``..._MAX_TOTAL_MIME_PARTS``). A
  multipart or message part at the depth limit becomes an opaque
  ``application/octet-stream`` leaf; once the part budget is spent, the last part made
  keeps the rest of its parent's body. Every walk is iterative: no input can recurse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_DEPTH = 100  # Dovecot: MESSAGE_PARSER_DEFAULT_MAX_NESTED_MIME_PARTS
MAX_PARTS = 10_000  # Dovecot: MESSAGE_PARSER_DEFAULT_MAX_TOTAL_MIME_PARTS
MAX_PARAMS = 64  # parameters kept per Content-Type / Content-Disposition
MAX_BOUNDARY = 200  # RFC 2046 allows 70; longer ones are not boundaries
_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:([^\n]*\n?(?:[ \t][^\n]*\n?)*)", re.M)
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTINUATION = re.compile(r"^(.+?)\*(\d{1,3})(\*?)$")
_TSPECIALS = '()<>@,;:\\"/[]?= \t'


@dataclass(eq=False)
class Part:
    """One MIME entity: its header is ``raw[start:body]``, its body ``raw[body:end]``."""

    start: int
    body: int
    end: int
    depth: int
    fields: dict[str, str]  # first value of each Content-* header, unfolded; lowercase names
    maintype: str = "text"
    subtype: str = "plain"
    params: list[tuple[str, str]] = field(default_factory=list)
    kind: str = "leaf"  # "multipart", "message" (one child: the enclosed message) or "leaf"
    children: list[Part] = field(default_factory=list)
    parent: Part | None = field(default=None, repr=False)

    @property
    def is_rfc822(self) -> bool:
        """Declared message/rfc822 (even when capped into a leaf, as Dovecot's section rules see it)."""
        return self.kind == "message"


def header_fields(raw: bytes, start: int, end: int, prefix: bytes = b"") -> dict[str, str]:
    """First value of each header field in ``raw[start:end]`` (unfolded, undecoded), by lowercase name.

    With ``prefix`` only names starting with it are kept (``b"content-"`` for body parts).
    """
    out: dict[str, str] = {}
    for match in _FIELD.finditer(raw, start, end):
        name = match.group(1).lower()
        if prefix and not name.startswith(prefix):
            continue
        key = name.decode("ascii", "replace")
        if key not in out:
            value = match.group(2).decode("utf-8", "surrogateescape")
            out[key] = _FOLD.sub("", value).strip()
    return out


def _skip_cfws(text: str, pos: int) -> int:
    """Past white space and (nested) comments."""
    depth = 0
    while pos < len(text):
        char = text[pos]
        if depth:
            if char == "\\":
                pos += 1
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
        elif char == "(":
            depth = 1
        elif char not in " \t\r\n":
            break
        pos += 1
    return pos


def _token(text: str, pos: int) -> tuple[str, int]:
    """A token or quoted string at ``pos`` (quotes removed); ``("", pos)`` if neither."""
    if pos < len(text) and text[pos] == '"':
        out = []
        pos += 1
        while pos < len(text) and text[pos] != '"':
            if text[pos] == "\\" and pos + 1 < len(text):
                pos += 1
            out.append(text[pos])
            pos += 1
        return "".join(out), pos + 1
    end = pos
    while end < len(text) and text[end] not in _TSPECIALS and text[end] >= " ":
        end += 1
    return text[pos:end], end


def content_type(value: str | None) -> tuple[str, str, list[tuple[str, str]]]:
    """``type/subtype; params`` → (type, subtype, params); text/plain when missing.

    Like Dovecot: a type without ``/`` keeps an empty subtype; comments are dropped; RFC 2231
    continuations are joined (``name*0*`` + ``name*1*`` → ``name*``, still encoded, as Dovecot
    writes it; ``name*0`` + ``name*1`` → ``name``).
    """
    if not value:
        return "text", "plain", []
    pos = _skip_cfws(value, 0)
    maintype, pos = _token(value, pos)
    pos = _skip_cfws(value, pos)
    subtype = ""
    if value[pos : pos + 1] == "/":
        pos = _skip_cfws(value, pos + 1)
        subtype, pos = _token(value, pos)
    if not maintype:
        return "text", "plain", parameters(value, pos)
    return maintype.lower(), subtype.lower(), parameters(value, pos)


def disposition(value: str) -> tuple[str, list[tuple[str, str]]]:
    pos = _skip_cfws(value, 0)
    kind, pos = _token(value, pos)
    return kind.lower(), parameters(value, pos)


def parameters(text: str, pos: int = 0) -> list[tuple[str, str]]:
    """``; name=value`` pairs from ``pos`` on (names lowercased), RFC 2231 continuations joined."""
    raw: list[tuple[str, str]] = []
    while pos < len(text) and len(raw) < MAX_PARAMS * 4:
        semi = text.find(";", pos)
        if semi < 0:
            break
        pos = _skip_cfws(text, semi + 1)
        name, pos = _token(text, pos)
        pos = _skip_cfws(text, pos)
        if not name or text[pos : pos + 1] != "=":
            continue
        pos = _skip_cfws(text, pos + 1)
        value, pos = _token(text, pos)
        raw.append((name.lower(), value))
    return _join_continuations(raw)[:MAX_PARAMS]


def _join_continuations(raw: list[tuple[str, str]]) -> list[tuple[str, str]]:
    pieces: dict[str, dict[int, tuple[str, bool]]] = {}
    order: list[tuple[str, str | None]] = []  # (name, value) or (base, None) where a continuation goes
    for name, value in raw:
        match = _CONTINUATION.match(name)
        if match is None:
            order.append((name, value))
            continue
        base = match.group(1)
        if base not in pieces:
            pieces[base] = {}
            order.append((base, None))
        pieces[base].setdefault(int(match.group(2)), (value, bool(match.group(3))))
    out: list[tuple[str, str]] = []
    for name, written in order:
        if written is not None:
            out.append((name, written))
            continue
        parts = pieces[name]
        joined = []
        index = 0
        while index in parts:
            joined.append(parts[index][0])
            index += 1
        if not joined:
            continue
        out.append((name + "*" if parts[0][1] else name, "".join(joined)))
    return out


def header_end(raw: bytes, start: int, end: int) -> int:
    """Where the body of the entity at ``raw[start:end]`` begins (past the empty line)."""
    if raw.startswith(b"\r\n", start) and start + 2 <= end:
        return start + 2
    if raw.startswith(b"\n", start) and start + 1 <= end:
        return start + 1
    crlf = raw.find(b"\r\n\r\n", start, end)
    lf = raw.find(b"\n\n", start, end)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf + 4
    if lf >= 0:
        return lf + 2
    return end


def _split(raw: bytes, start: int, end: int, boundary: bytes, budget: int) -> tuple[list[tuple[int, int]], int]:
    """(start, end) of the parts between ``--boundary`` lines in ``raw[start:end]`` (at most ``budget``), and
    where the closing ``--boundary--`` ends (-1 if there is none)."""
    delimiter = b"--" + boundary
    parts: list[tuple[int, int]] = []
    pos = start
    current: int | None = None
    while True:
        idx = raw.find(delimiter, pos, end)
        if idx < 0:
            break
        after = idx + len(delimiter)
        if (idx != start and raw[idx - 1 : idx] != b"\n") or not _delimiter_ends(raw, after, end):
            pos = after  # not at a line start, or "--b1" in "--b10": another (inner) boundary
            continue
        if current is not None:
            stop = idx
            if raw[stop - 2 : stop] == b"\r\n":
                stop -= 2
            elif raw[stop - 1 : stop] == b"\n":
                stop -= 1
            parts.append((current, max(stop, current)))
            if len(parts) >= budget:  # the part budget is spent: the last part keeps the rest
                parts[-1] = (current, end)
                return parts, -1
        if raw[after : after + 2] == b"--":
            return parts, after + 2
        eol = raw.find(b"\n", after, end)
        if eol < 0:
            current = None
            break
        current = pos = eol + 1
    if current is not None:
        parts.append((current, end))
    return parts, -1


def _delimiter_ends(raw: bytes, pos: int, end: int) -> bool:
    """Whether a ``--boundary`` match ends there: ``--`` (closing), or only white space to the line end."""
    if raw.startswith(b"--", pos):
        return True
    while pos < end and raw[pos] in b" \t\r":
        pos += 1
    return pos >= end or raw[pos] == 0x0A


def _keep_line_end(raw: bytes, part: Part, closed: int) -> None:
    """A multipart whose closing delimiter ends right where its body was cut keeps that line's end.

    Dovecot reads the line break after ``--inner--`` as part of that line, so it is not the break
    before the next outer delimiter: the part (and the enclosing parts that ended there) grow by it.
    """
    if closed != part.end:
        return
    eol = 2 if raw.startswith(b"\r\n", closed) else 1 if raw.startswith(b"\n", closed) else 0
    node: Part | None = part
    while eol and node is not None and node.end == closed:
        node.end = closed + eol
        node = node.parent


def _fill(raw: bytes, part: Part, in_digest: bool) -> None:
    """Read the part's header and decide its kind (children are added by ``parse``)."""
    part.fields = header_fields(raw, part.start, part.body, b"content-")
    value = part.fields.get("content-type")
    if value is None and in_digest:
        part.maintype, part.subtype, part.params = "message", "rfc822", []
    else:
        part.maintype, part.subtype, part.params = content_type(value)
    if part.maintype == "multipart":
        part.kind = "multipart"
    elif part.maintype == "message" and part.subtype == "rfc822":
        part.kind = "message"


def parse(raw: bytes) -> Part:
    """The part tree of ``raw`` (never raises; bounded by MAX_DEPTH and MAX_PARTS)."""
    root = Part(0, header_end(raw, 0, len(raw)), len(raw), 0, {})
    _fill(raw, root, False)
    count = 1
    stack = [root]
    while stack:
        part = stack.pop()
        if part.kind == "leaf":
            continue
        if part.depth + 1 >= MAX_DEPTH or count >= MAX_PARTS:
            part.kind, part.maintype, part.subtype = "leaf", "application", "octet-stream"
            continue
        if part.kind == "message":
            child = Part(part.body, header_end(raw, part.body, part.end), part.end, part.depth + 1, {}, parent=part)
            _fill(raw, child, False)
            part.children.append(child)
            count += 1
            stack.append(child)
            continue
        boundary = dict(part.params).get("boundary", "").encode("utf-8", "surrogateescape")
        if not boundary or len(boundary) > MAX_BOUNDARY:
            continue
        digest = part.subtype == "digest"
        ranges, closed = _split(raw, part.body, part.end, boundary, MAX_PARTS - count)
        for start, end in ranges:
            child = Part(start, header_end(raw, start, end), end, part.depth + 1, {}, parent=part)
            _fill(raw, child, digest)
            part.children.append(child)
        if part.parent is not None:
            _keep_line_end(raw, part, closed)
        count += len(part.children)
        stack.extend(reversed(part.children))
    return root


def walk(root: Part) -> Iterator[Part]:
    """Every part, in document order (iterative)."""
    stack = [root]
    while stack:
        part = stack.pop()
        yield part
        stack.extend(reversed(part.children))


def find(root: Part, numbers: tuple[int, ...]) -> Part | None:
    """The part a section number names (RFC 3501 §6.4.5, as Dovecot resolves it); None if there is none.

    A non-multipart has only part 1 (itself); a message/rfc822 part followed by more numbers
    stands for its enclosed message.
    """
    part: Part | None = root
    for i, number in enumerate(numbers):
        if part is None:
            return None
        if part.kind == "multipart":
            part = part.children[number - 1] if 0 < number <= len(part.children) else None
        elif number != 1:
            return None
        if part is not None and part.kind == "message" and i + 1 < len(numbers):
            part = part.children[0]
    return part
