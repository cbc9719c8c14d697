"""The auth service's wire format: length-prefixed JSON frames on a Unix stream socket (no Django here).

A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON (one object).
Requests and answers alternate on a connection, one at a time, so no request id is needed.

    request  {"op": "auth", "login": …, "password": …, "service": "imap", "peer": "192.0.2.1"}
    answer   {"mailbox": {…MailboxInfo fields…}}   or   {"mailbox": null}   or   {"error": "…"}
    request  {"op": "stats"}    answer {"hashes": n, "cached": n, "pid": n}

The password crosses the socket (owner-only, in MAILAPP_HOME) as Dovecot's auth protocol
carries it to its auth process; it is never written anywhere.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

MAX_FRAME = 64 * 1024  # a login and a password are at most a few KiB; anything larger is an error
_LENGTH = struct.Struct(">I")


class FrameError(Exception):
    """The peer sent something that is not a frame of this protocol, or hung up mid-frame."""


def encode(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    if len(body) > MAX_FRAME:
        raise FrameError(f"frame of {len(body)} bytes is over {MAX_FRAME}")
    return _LENGTH.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body.decode("utf-8", "surrogatepass"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"not a JSON frame: {exc}") from None
    if not isinstance(message, dict):
        raise FrameError("a frame holds one JSON object")
    return message


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    """``size`` bytes, None on a clean end of stream before the first byte; FrameError mid-way."""
    data = sock.recv(size)
    if not data:
        return None
    while len(data) < size:
        more = sock.recv(size - len(data))
        if not more:
            raise FrameError("connection closed in the middle of a frame")
        data += more
    return data


def read(sock: socket.socket) -> dict[str, Any] | None:
    """The next frame's object from a blocking socket; None if the peer closed between frames."""
    head = _read_exactly(sock, _LENGTH.size)
    if head is None:
        return None
    (size,) = _LENGTH.unpack(head)
    if size > MAX_FRAME:
        raise FrameError(f"frame of {size} bytes is over {MAX_FRAME}")
    body = _read_exactly(sock, size) if size else b""
    if body is None:
        raise FrameError("connection closed in the middle of a frame")
    return decode(body)
