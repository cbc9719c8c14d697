"""Reading a message after DATA in one pass (RFC 5321 4.1.1.4, 4.5.2).

aiosmtpd awaits one line at a time; here the body is read with
``readuntil(b".\\r\\n")`` — one read for most messages, one more for each line that
happens to end in a dot, one per ``CHUNK`` of a long body — and dot-stuffing is undone
with one ``bytes.replace``. The outcomes are aiosmtpd's: a line longer than the line
limit gives ``500 … line too long``, a body over the size limit ``552 … too much mail
data`` (whichever comes first in the stream), both only after the final dot. Memory
stays bounded: past the size limit the body is read and dropped.
"""

from __future__ import annotations

import asyncio

NOMINAL = ""
# aiosmtpd's texts, so that replies.enhance() gives them the same enhanced codes as before.
TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
TOO_MUCH = "552 Error: Too much mail data"
END = b".\r\n"
FINAL = b"\r\n.\r\n"
CHUNK = 256 * 1024  # the most one read holds while no ".\r\n" comes


def unstuff(body: bytes) -> bytes:
    """Remove the leading dot of every line that has one (RFC 5321 4.5.2)."""
    if body.startswith(b"."):
        body = body[1:]
    return body.replace(b"\r\n.", b"\r\n")


def judge(head: bytes, size: int, size_limit: int | None, line_limit: int) -> str:
    """The reply state for a body of ``size`` octets whose first octets are ``head`` (all of
    it when within the size limit; else at least ``size_limit + line_limit + 3``).

    A line is too long when it holds more than ``line_limit`` octets with its CRLF. aiosmtpd
    goes line by line: a line whose text alone is over the limit is refused as it is read,
    before it is counted; then the count decides (over the size limit); then the line's
    length with its CRLF. The first refusal stays.
    """
    if not size_limit or size <= size_limit:
        if len(head) + 2 > line_limit and max(map(len, head.split(b"\r\n"))) + 2 > line_limit:
            return TOO_LONG
        return NOMINAL
    start = 0
    while True:
        end = head.find(b"\r\n", start)
        if end < 0 or end - start > line_limit:  # (no CRLF in the head: longer than that)
            return TOO_LONG
        if end + 2 > size_limit:
            return TOO_MUCH
        if end + 2 - start > line_limit:
            return TOO_LONG
        start = end + 2


async def read_body(
    reader: asyncio.StreamReader, size_limit: int | None, line_limit: int
) -> tuple[bytes | None, str]:
    """Read up to and including the line ``.<CR><LF>``. Returns the body before that line
    (dot-stuffed still; whole, or its head when over the size limit) and the reply state
    (:data:`NOMINAL`, :data:`TOO_LONG`, :data:`TOO_MUCH`); the body is None if the stream
    ended first."""
    keep = (size_limit + line_limit + 3) if size_limit else None
    parts: list[bytes] = []
    kept = size = 0
    last2 = b""  # the last two octets read before the current piece
    # asyncio's StreamReader has no public way to change its read limit (the line limit).
    saved: int = reader._limit  # type: ignore[attr-defined]
    reader._limit = max(CHUNK, saved)  # type: ignore[attr-defined]
    try:
        while True:
            try:
                piece = await reader.readuntil(END)
                final = (
                    piece.endswith(FINAL)
                    or (piece == END and (size == 0 or last2 == b"\r\n"))
                    or (len(piece) == 4 and last2[-1:] == b"\r" and piece == b"\n" + END)
                )
            except asyncio.IncompleteReadError:
                return None, NOMINAL
            except asyncio.LimitOverrunError as exc:
                # A long stretch without ".\r\n": take it but its last two octets, which may
                # begin the final line.
                piece = await reader.readexactly(max(1, exc.consumed - 2))
                final = False
            if final:
                piece = piece[: -len(END)]
            if keep is None or kept < keep:
                parts.append(piece)
                kept += len(piece)
            size += len(piece)
            if final:
                break
            last2 = (last2 + piece[-2:])[-2:]
    finally:
        reader._limit = saved  # type: ignore[attr-defined]
    head = b"".join(parts)
    return head, judge(head, size, size_limit, line_limit)
