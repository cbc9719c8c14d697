"""Modified UTF-7 (RFC 3501 §5.1.3): IMAP folder names on the wire, and Maildir++ folder names on disk.

The one codec of the appliance: the IMAP parser and responses, the store's
directory names (as Dovecot writes them) and the fetcher's remote folder all use
it. The decoder accepts only the canonical form, the one :func:`encode` makes,
so that two different wire names never decode to one folder: an encoded
printable ASCII character (``&AGEAYgBj-`` for ``abc``), ``&`` written other
than as ``&-``, two shifts in a row, non-zero padding bits or a lone surrogate
are all refused.
"""

from __future__ import annotations

import base64
import re

# Printable ASCII without "&": a name made only of these is its own encoding (the common case, e.g. INBOX).
_PLAIN = re.compile(r"[\x20-\x25\x27-\x7e]*\Z")
_PLAIN_BYTES = re.compile(rb"[\x20-\x7e]*\Z")
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")


class UTF7Error(ValueError):
    """A name that is not valid (canonical) modified UTF-7."""


def _printable(char: str) -> bool:
    return 0x20 <= ord(char) <= 0x7E


def encode(text: str) -> str:
    """Encode ``text``: printable ASCII as is, ``&`` as ``&-``, every other run as one base64 shift."""
    if _PLAIN.match(text):
        return text
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in text:
        if _printable(char):
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _decode_shift(chunk: str) -> str:
    data = chunk.replace(",", "/")
    data += "=" * (-len(data) % 4)
    try:
        return base64.b64decode(data, validate=True).decode("utf-16-be")
    except (ValueError, UnicodeDecodeError) as exc:
        raise UTF7Error("bad base64 in modified UTF-7") from exc


def decode(text: str) -> str:
    """Decode canonical modified UTF-7; raises :class:`UTF7Error` for anything else.

    Refused: characters outside printable ASCII, an unterminated ``&`` shift, bad
    base64, and every non-canonical spelling (the result must encode back to
    exactly ``text``).
    """
    if _PLAIN.match(text):
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "&":
            if not _printable(char):
                raise UTF7Error("character outside printable ASCII in modified UTF-7")
            out.append(char)
            i += 1
            continue
        end = text.find("-", i + 1)
        if end < 0:
            raise UTF7Error("unterminated & shift in modified UTF-7")
        chunk = text[i + 1 : end]
        out.append(_decode_shift(chunk) if chunk else "&")
        i = end + 1
    decoded = "".join(out)
    if encode(decoded) != text:
        raise UTF7Error("modified UTF-7 not in its canonical form (printable ASCII encoded, or a split shift)")
    return decoded


def encode_wire(name: str) -> bytes:
    """A folder name as IMAP sends it."""
    return encode(name).encode("ascii")


def decode_wire(data: bytes) -> str:
    """A folder name as an IMAP client sent it; raises :class:`UTF7Error` on malformed input.

    Raw 8-bit UTF-8 is tolerated (some clients send it, as Dovecot tolerates),
    but never control characters.
    """
    if _PLAIN_BYTES.match(data):  # printable ASCII: modified UTF-7
        return decode(data.decode("ascii"))
    if _CONTROL_BYTES.search(data):
        raise UTF7Error("control character in mailbox name")
    if any(b > 0x7F for b in data):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UTF7Error("mailbox name is neither modified UTF-7 nor UTF-8") from exc
    return decode(data.decode("ascii"))
