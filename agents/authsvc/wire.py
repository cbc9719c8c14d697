"""The auth service's wire format: length-prefixed JSON frames on a Unix stream socket (no Django here).

A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON (one object).
Requests and answers alternate on a connection, one at a time, so no request id is needed.

    request  {"op": "auth", "login": …, "password": …, "service": "imap", "peer": "192.0.2.1"}
    answer   {"mailbox": [MailboxInfo's fields, in order]}   or   {"mailbox": null}   or   {"error": "…"}
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
_ENCODER = json.JSONEncoder(separators=(",", ":"))  # made once: json.dumps with arguments makes one per call


class FrameError(Exception):
    """The peer sent something that is not a frame of this protocol, or hung up mid-frame."""


def encode(message: dict[str, Any]) -> bytes:
    body = _ENCODER.encode(message).encode("ascii")  # ASCII: anything else is escaped, lone surrogates too
    if len(body) > MAX_FRAME:
        raise FrameError(f"frame of {len(body)} bytes is over {MAX_FRAME}")
    return _LENGTH.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body.decode("utf-8"))  # a str: json.loads would sniff a bytes' encoding first
    except ValueError as exc:  # UnicodeDecodeError included
        raise FrameError(f"not a JSON frame: {exc}") from None
    if not isinstance(message, dict):
        raise FrameError("a frame holds one JSON object")
    return message


def read(sock: socket.socket) -> dict[str, Any] | None:
    """The next frame's object from a blocking socket; None if the peer closed between frames.

    Requests and answers alternate, so nothing follows a frame until it is answered: one
    ``recv`` usually brings the whole frame (two system calls fewer per login than reading
    the length first).
    """
    data = sock.recv(MAX_FRAME + _LENGTH.size)
    if not data:
        return None
    while len(data) < _LENGTH.size:
        more = sock.recv(_LENGTH.size - len(data))
        if not more:
            raise FrameError("connection closed in the middle of a frame")
        data += more
    (size,) = _LENGTH.unpack_from(data)
    if size > MAX_FRAME:
        raise FrameError(f"frame of {size} bytes is over {MAX_FRAME}")
    end = _LENGTH.size + size
    while len(data) < end:
        more = sock.recv(end - len(data))
        if not more:
            raise FrameError("connection closed in the middle of a frame")
        data += more
    if len(data) > end:
        raise FrameError("data after a frame before its answer")
    return decode(data[_LENGTH.size:])
