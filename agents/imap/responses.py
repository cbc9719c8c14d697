"""Responses: typed values → bytes (strings, lists, ENVELOPE, BODYSTRUCTURE, status lines).

Pure. ENVELOPE and BODYSTRUCTURE are serialised from the JSON shapes the store caches
at delivery (``agents/store/mime.py``), so FETCH never parses a message for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from mailcore import mutf7

from .sequence import format_set

_PLAIN = re.compile(rb"[\x20\x21\x23-\x5b\x5d-\x7e]*\Z")  # printable ASCII without " and \\
_PRINTABLE = re.compile(rb"[\x20-\x7e]*\Z")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
NIL = b"NIL"


def string(value: bytes | str | None) -> bytes:
    """A string as IMAP sends it: quoted when short and plain, otherwise a literal; None → NIL."""
    if value is None:
        return NIL
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    if len(data) < 1024:
        if _PLAIN.match(data):
            return b'"' + data + b'"'
        if _PRINTABLE.match(data):
            return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(data) + data


def literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


_QUOTABLE_UTF8 = re.compile(rb"[^\x00-\x1f\x7f]*\Z")  # RFC 9051 quoted: QUOTED-CHAR and UTF8-2/3/4


def mailbox(name: str, utf8: bool = False) -> bytes:
    """A folder name on the wire: modified UTF-7, quoted; or, once IMAP4rev2 is enabled, UTF-8 as it is
    (RFC 9051 §5.1), quoted when it fits in a quoted string, else a literal."""
    if not utf8:
        return string(mutf7.encode_wire(name))
    data = name.encode("utf-8", "surrogateescape")
    if len(data) < 1024 and _QUOTABLE_UTF8.match(data):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(data)


def plist(items: Iterable[bytes]) -> bytes:
    return b"(" + b" ".join(items) + b")"


def flags(values: Iterable[str]) -> bytes:
    return b"(" + " ".join(sorted(values)).encode("ascii", "replace") + b")"


def internaldate(value: datetime) -> bytes:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    offset = value.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    zone = f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    text = f"{value.day:2d}-{_MONTHS[value.month - 1]}-{value.year:04d} {value:%H:%M:%S} {zone}"
    return b'"' + text.encode("ascii") + b'"'


def _addresses(value: Any) -> bytes:
    """An address list: RFC 3501 writes ``"(" 1*address ")"`` with no space between addresses."""
    if not value:
        return NIL
    return b"(" + b"".join(plist(string(part) for part in addr) for addr in value) + b")"


def envelope(value: Any) -> bytes:
    """ENVELOPE from the store's list of 10: date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to, id."""
    if not value or len(value) != 10:
        value = [None] * 10
    out = [string(value[0]), string(value[1])]
    out.extend(_addresses(v) for v in value[2:8])
    out.extend((string(value[8]), string(value[9])))
    return plist(out)


def _params(value: Any) -> bytes:
    if not value:
        return NIL
    return plist(string(x) for pair in value for x in pair)


def _disposition(value: Any) -> bytes:
    if not value:
        return NIL
    return plist([string(value[0]), _params(value[1] if len(value) > 1 else None)])


def _language(value: Any) -> bytes:
    if not value:
        return NIL
    if isinstance(value, list):
        return plist(string(v) for v in value)
    return string(value)


def bodystructure(node: Any, extensible: bool = True) -> bytes:
    """BODYSTRUCTURE (``extensible``) or BODY from the store's nested dict."""
    if not isinstance(node, dict):
        node = {"type": "text", "subtype": "plain", "params": [["charset", "us-ascii"]], "size": 0, "lines": 0}
    kind = (node.get("type") or "text").lower()
    subtype = node.get("subtype")
    subtype = ("plain" if subtype is None else subtype).upper()  # "Content-Type: text" has "" (as in Dovecot)
    if kind == "multipart":
        parts = node.get("parts") or []
        out = b"".join(bodystructure(p, extensible) for p in parts) if parts else bodystructure(None, extensible)
        out += b" " + string(subtype)
        if extensible:
            out += b" " + b" ".join([_params(node.get("params")), _disposition(node.get("disposition")),
                                     _language(node.get("language")), string(node.get("location"))])
        return b"(" + out + b")"
    fields = [string(kind.upper()), string(subtype), _params(node.get("params")), string(node.get("id")),
              string(node.get("description")), string(node.get("encoding") or "7BIT"),
              str(int(node.get("size") or 0)).encode()]
    if kind == "message" and subtype == "RFC822":
        fields += [envelope(node.get("envelope")), bodystructure(node.get("body"), extensible),
                   str(int(node.get("lines") or 0)).encode()]
    elif kind == "text":
        fields.append(str(int(node.get("lines") or 0)).encode())
    if extensible:
        fields += [string(node.get("md5")), _disposition(node.get("disposition")), _language(node.get("language")),
                   string(node.get("location"))]
    return plist(fields)


def tagged(tag: str, status: str, text: str, code: str | None = None) -> bytes:
    code_text = f"[{code}] " if code else ""
    return f"{tag} {status} {code_text}{text}\r\n".encode("utf-8", "replace")


def untagged(text: str | bytes) -> bytes:
    if isinstance(text, str):
        text = text.encode("utf-8", "replace")
    return b"* " + text + b"\r\n"


def esearch(tag: str, uid: bool, returns: tuple[str, ...], numbers: list[int], modseq: int | None,
            partial: tuple[int, int] | None = None) -> bytes:
    """``* ESEARCH (TAG "t") UID MIN 1 MAX 9 ALL 1:3,9 COUNT 4`` (RFC 4731); empty results leave MIN, MAX, ALL out.

    ``PARTIAL (low:high set)`` (RFC 5267) names the results at those positions (1-based), NIL if none.
    """
    out = b'ESEARCH (TAG "%s")' % tag.encode("ascii", "replace")
    if uid:
        out += b" UID"
    if numbers and "MIN" in returns:
        out += b" MIN %d" % numbers[0]
    if numbers and "MAX" in returns:
        out += b" MAX %d" % numbers[-1]
    if numbers and "ALL" in returns:
        out += b" ALL " + format_set(numbers).encode()
    if partial is not None:
        low, high = sorted(partial)
        chosen = numbers[low - 1 : high]
        out += b" PARTIAL (%d:%d %s)" % (partial[0], partial[1], format_set(chosen).encode() if chosen else b"NIL")
    if "COUNT" in returns:
        out += b" COUNT %d" % len(numbers)
    if modseq is not None:
        out += b" MODSEQ %d" % modseq
    return untagged(out)


def esearch_update(tag: str, uid: bool, word: str, numbers: list[int]) -> bytes:
    """``* ESEARCH (TAG "t") UID ADDTO (0 5:6)`` or ``REMOVEFROM``: a change to a SEARCH RETURN (UPDATE) result
    (RFC 5267; position 0, as for an unsorted search)."""
    return untagged(b'ESEARCH (TAG "%s")%s %s (0 %s)' % (tag.encode("ascii", "replace"), b" UID" if uid else b"",
                                                        word.encode(), format_set(numbers).encode()))
