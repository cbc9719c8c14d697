"""Modified UTF-7 (RFC 3501 §5.1.3), the encoding of IMAP mailbox names on the wire."""

from __future__ import annotations

import base64


class UTF7Error(ValueError):
    """A mailbox name that is not valid modified UTF-7."""


def encode(name: str) -> bytes:
    """Encode a folder name for the wire: printable ASCII as is, ``&`` as ``&-``, rest base64."""
    out = bytearray()
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.extend(b"&" + base64.b64encode(raw).rstrip(b"=").replace(b"/", b",") + b"-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.extend(b"&-" if ch == "&" else ch.encode("ascii"))
        else:
            pending.append(ch)
    flush()
    return bytes(out)


def decode(data: bytes) -> str:
    """Decode a wire mailbox name; raises UTF7Error on malformed input.

    Raw 8-bit UTF-8 is tolerated (some clients send it), but not control characters.
    """
    if any(b < 0x20 or b == 0x7F for b in data):
        raise UTF7Error("control character in mailbox name")
    if any(b > 0x7F for b in data):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UTF7Error("mailbox name is neither modified UTF-7 nor UTF-8") from exc
    text = data.decode("ascii")
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = text.find("-", i + 1)
        if end < 0:
            raise UTF7Error("unterminated &-sequence in mailbox name")
        chunk = text[i + 1 : end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            try:
                out.append(base64.b64decode(b64, validate=True).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise UTF7Error("bad base64 in mailbox name") from exc
        i = end + 1
    return "".join(out)
