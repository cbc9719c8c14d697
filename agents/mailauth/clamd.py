"""ClamAV's clamd over its socket (INSTREAM): is this message infected?

Protocol (clamd(8)): ``zINSTREAM\\0``, then chunks of <4-byte big-endian length><data>,
a zero-length chunk to end; the answer is ``stream: OK`` or ``stream: <name> FOUND``.
"""

from __future__ import annotations

import socket
import struct

CHUNK = 64 * 1024
MAX_REPLY = 4096


class ClamdError(Exception):
    """clamd could not be asked or answered nonsense."""


def scan(raw: bytes, socket_path: str, timeout: float = 30.0) -> str | None:
    """The virus name clamd finds in ``raw``, or None if clean; raises ClamdError."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(socket_path)
            sock.sendall(b"zINSTREAM\0")
            for start in range(0, len(raw), CHUNK):
                chunk = raw[start:start + CHUNK]
                sock.sendall(struct.pack("!I", len(chunk)) + chunk)
            sock.sendall(struct.pack("!I", 0))
            reply = b""
            while b"\0" not in reply and len(reply) < MAX_REPLY:
                data = sock.recv(MAX_REPLY)
                if not data:
                    break
                reply += data
    except OSError as exc:
        raise ClamdError(f"clamd at {socket_path}: {exc}") from exc
    return parse_reply(reply)


def parse_reply(reply: bytes) -> str | None:
    """``stream: OK`` → None; ``stream: Name FOUND`` → "Name"; anything else raises ClamdError."""
    text = reply.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    if text.endswith(" OK"):
        return None
    if text.endswith(" FOUND"):
        name = text[: -len(" FOUND")].partition(": ")[2].strip()
        return name[:100] or "unknown"
    raise ClamdError(f"clamd answered {text[:100]!r}")
