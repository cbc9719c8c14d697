"""The Authentication-Results header (RFC 8601): writing ours, removing forged ones (pure).

On the MX door any Authentication-Results carrying our authserv-id came from
outside (we add ours only after stripping), so it is removed: a client must not
be able to claim our verdicts (RFC 8601 §5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SAFE = re.compile(r"[^\x21-\x7e]")


def _value(text: str) -> str:
    """A token or quoted string safe for a property value."""
    text = _SAFE.sub("", text)[:255]
    if re.fullmatch(r"[A-Za-z0-9.@_+=-]+", text or "x"):
        return text
    return '"' + text.replace("\\", "").replace('"', "") + '"'


def _comment(text: str) -> str:
    text = re.sub(r"[()\\\r\n]", "", text)[:120].strip()
    return f" ({text})" if text else ""


def header(authserv_id: str, results: Iterable[tuple[str, str, str, dict[str, str]]]) -> str:
    """``Authentication-Results: <id>; method=result (comment) prop=value; ...`` folded per method.

    ``results``: (method, result, comment, {property: value}).
    """
    parts = []
    for method, result, comment, props in results:
        text = f"{method}={result}{_comment(comment)}"
        for name, value in props.items():
            if value:
                text += f" {name}={_value(value)}"
        parts.append(text)
    if not parts:
        parts = ["none"]
    return "Authentication-Results: " + authserv_id + ";\r\n\t" + ";\r\n\t".join(parts)


def _authserv_id(value: bytes) -> bytes:
    # The authserv-id is the first token, before any CFWS, version or ";".
    text = re.sub(rb"\([^)]*\)", b" ", value)
    words = text.strip().split(b";", 1)[0].split()
    return words[0].lower() if words else b""


def strip_forged(raw: bytes, authserv_id: str) -> bytes:
    """``raw`` without header fields claiming our authserv-id: Authentication-Results (and
    the X-Spam-* verdict fields we write, which only we may set on the MX door)."""
    sep = b"\r\n\r\n" if b"\r\n\r\n" in raw[:262144] else b"\n\n"
    at = raw.find(sep)
    if at < 0:
        head, body = raw, b""
    else:
        head, body = raw[:at + len(sep) // 2], raw[at + len(sep) // 2:]
    eol = sep[: len(sep) // 2]
    ours = authserv_id.lower().encode()
    kept: list[bytes] = []
    skipping = False
    for line in head.split(eol):
        if line[:1] in (b" ", b"\t") and line.strip():
            if not skipping:
                kept.append(line)
            continue
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        skipping = lname in (b"x-spam-score", b"x-spam-status", b"x-spam-flag", b"x-spam-learned") or (
            lname == b"authentication-results" and _authserv_id(_unfold(head, line, eol)) == ours)
        if not skipping:
            kept.append(line)
    return eol.join(kept) + body


def _unfold(head: bytes, line: bytes, eol: bytes) -> bytes:
    """The whole value of the field starting at ``line`` (its continuation lines joined)."""
    start = head.find(line)
    rest = head[start:].split(eol)
    value = rest[0].partition(b":")[2]
    for more in rest[1:]:
        if more[:1] in (b" ", b"\t") and more.strip():
            value += b" " + more.strip()
        else:
            break
    return value
