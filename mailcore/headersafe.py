"""Header values built from user-controlled text: refuse control characters, decoded or not.

Checking only the raw text is not enough: ``=?UTF-8?Q?x=0ABcc:_v@example.net?=`` holds no
line break, but Python's ``email`` generator (3.11 before the CVE-2024-6923 fix) decodes
such an encoded word when it refolds a header and writes the newline out raw, so a
``Bcc:`` or a second ``From:`` leaves with the message. :func:`check_header_value`
decodes every RFC 2047 encoded word (Q and B, any charset) and refuses the value if
either form holds a control character other than TAB.

Every place that builds an outgoing header from text a user or a remote sender chose
(webmail compose, reply and forward, auto-replies, DSNs) calls it. Pure: no Django,
no I/O.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# =?charset(*language)?Q|B?text?= (RFC 2047, RFC 2231 section 5); lenient on purpose:
# anything a decoder might accept is looked at.
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([QqBb])\?([^?]*)\?=")


class UnsafeHeaderValue(ValueError):
    """A header value holds, or decodes to, a line break or another control character."""


def _word_bytes(kind: str, text: str) -> bytes | None:
    try:
        if kind in "Qq":
            raw = text.replace("_", " ").encode("ascii", "surrogateescape")
            return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
        padded = text + "=" * (-len(text) % 4)
        return base64.b64decode(padded.encode("ascii", "surrogateescape"), validate=False)
    except (binascii.Error, UnicodeError, ValueError):
        return None


def decoded_words(value: str) -> list[str]:
    """The text of each RFC 2047 encoded word in ``value`` (undecodable bytes replaced)."""
    out: list[str] = []
    for match in _ENCODED_WORD.finditer(value):
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            continue
        charset = match.group(1).split("*", 1)[0] or "ascii"
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = "latin-1"
        # Control bytes are refused whatever the charset claims (UTF-16 hides "\n" as 00 0A).
        if _CONTROL_BYTES.search(data):
            out.append(data.decode("latin-1"))
            continue
        out.append(data.decode(charset, "replace"))
    return out


def is_unsafe(value: str) -> bool:
    """True if ``value``, or any encoded word in it once decoded, holds a control character."""
    value = value or ""
    if _CONTROL.search(value):
        return True
    return any(_CONTROL.search(word) for word in decoded_words(value)) if "=?" in value else False


def check_header_value(label: str, value: str) -> str:
    """``value`` unchanged if it is safe in a header; raises :class:`UnsafeHeaderValue` naming ``label``."""
    if is_unsafe(value):
        raise UnsafeHeaderValue(f"{label} may not contain line breaks or control characters.")
    return value or ""


def safe_or(value: str, fallback: str) -> str:
    """``value`` if it is safe in a header, else ``fallback`` (for automatic messages, which
    have nobody to show an error to)."""
    return fallback if is_unsafe(value) else value
