"""A parsed view of a message's header block for filters and auto-replies (no Django).

Only the header block is parsed, at most ``HEADER_LIMIT`` bytes, so a huge or
hostile message costs little; a header that will not decode is read as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

HEADER_LIMIT = 256 * 1024


def header_block(raw: bytes) -> bytes:
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    return (raw if end < 0 else raw[: end + 2])[:HEADER_LIMIT]


def _decode(value: object) -> str:
    """A header value as readable text (RFC 2047 words decoded; never raises)."""
    from email.header import decode_header, make_header

    text = str(value)
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # malformed encoded words: keep the raw text
        return text


@dataclass
class ParsedMessage:
    headers: Message
    size: int

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name``, decoded, unfolded."""
        return [" ".join(_decode(v).split()) for v in (self.headers.get_all(name) or [])]

    def get(self, name: str) -> str:
        values = self.get_all(name)
        return values[0] if values else ""

    def has(self, name: str) -> bool:
        return name in self.headers

    def names(self) -> list[str]:
        return list(self.headers.keys())


def parse(raw: bytes) -> ParsedMessage:
    """Parse the header block of ``raw``; a broken block gives empty headers, never an error."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(header_block(raw))
    except Exception:
        headers = Message()
    return ParsedMessage(headers=headers, size=len(raw))


def count_received(raw: bytes) -> int:
    """How many ``Received:`` headers the message carries (its hop count)."""
    head = header_block(raw)
    return sum(1 for line in head.splitlines() if line[:9].lower() == b"received:")


def delivered_to(raw: bytes) -> set[str]:
    """Addresses in ``Delivered-To:`` headers (lowercased): where it has been delivered already."""
    found: set[str] = set()
    for line in header_block(raw).splitlines():
        if line[:13].lower() == b"delivered-to:":
            found.add(line[13:].decode("utf-8", "replace").strip().strip("<>").lower())
    return found
