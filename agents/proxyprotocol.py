"""The PROXY protocol (HAProxy's, versions 1 and 2) on our listeners, from trusted proxies only.

A mail proxy in front (nginx's ``mail`` module with ``proxy_protocol on``) opens the connection to
the backend itself, so without this header our logs, the login guard's throttles and the per-address
limits would see the proxy's address for every client. The header comes first on the connection,
before the server's greeting.

Trust is by the connecting socket's address alone (``MAILAPP_TRUSTED_PROXIES``): from a trusted
proxy the header is required (read with a deadline and a size bound, the connection closed if it is
missing or malformed); from anyone else nothing is read ahead and a ``PROXY`` line is just a bad
command, so nobody can claim another address. Only the plain ports take it: a proxy speaks to the
backend without TLS, and an implicit-TLS port's first bytes belong to the handshake.

Parsing is pure (bytes in, :class:`ProxyHeader` out); :func:`read_header` is the one async reader.
No Django here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass

V1_PREFIX = b"PROXY "
V1_MAX = 107  # the longest v1 line, CRLF included (the specification's bound)
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_MAX_BODY = 512  # addresses (at most 216 octets) plus TLVs: more is refused, never read
HEADER_TIMEOUT = 5.0  # seconds a trusted proxy has to send the header


class ProxyHeaderError(ValueError):
    """The header is malformed, too long or of an unknown kind: the connection is closed."""


@dataclass(frozen=True)
class ProxyHeader:
    """What the proxy says about the connection it relays; ``source`` is "" for a LOCAL/UNKNOWN one
    (the proxy's own connection, a health check): then the socket's address stands."""

    source: str
    source_port: int = 0
    destination: str = ""
    destination_port: int = 0
    version: int = 1


def _address(text: str, family: int) -> str:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise ProxyHeaderError(f"not an IP address: {text[:50]!r}") from None
    if ip.version != family:
        raise ProxyHeaderError(f"address {text} is not IPv{family}")
    return str(ip)


def _port(text: str) -> int:
    if not text.isdigit() or len(text) > 5 or (len(text) > 1 and text[0] == "0") or int(text) > 65535:
        raise ProxyHeaderError(f"not a port: {text[:10]!r}")
    return int(text)


def parse_v1(line: bytes) -> ProxyHeader:
    """One v1 line, CRLF included: ``PROXY TCP4 1.2.3.4 5.6.7.8 51234 143\\r\\n`` or ``PROXY UNKNOWN…``."""
    if len(line) > V1_MAX:
        raise ProxyHeaderError("PROXY line too long")
    if not line.startswith(V1_PREFIX) or not line.endswith(b"\r\n"):
        raise ProxyHeaderError("not a PROXY line")
    try:
        text = line[:-2].decode("ascii")
    except UnicodeDecodeError:
        raise ProxyHeaderError("PROXY line is not ASCII") from None
    parts = text.split(" ")
    if len(parts) >= 2 and parts[1] == "UNKNOWN":
        return ProxyHeader("")  # the rest, if any, is to be ignored
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError("malformed PROXY line")
    family = 4 if parts[1] == "TCP4" else 6
    return ProxyHeader(_address(parts[2], family), _port(parts[4]), _address(parts[3], family), _port(parts[5]))


def parse_v2(head: bytes, body: bytes) -> ProxyHeader:
    """A v2 header: ``head`` its 16 fixed octets, ``body`` the ``length`` octets they announce."""
    if len(head) != 16 or not head.startswith(V2_SIGNATURE):
        raise ProxyHeaderError("not a PROXY v2 header")
    version_command, family_protocol, length = head[12], head[13], struct.unpack("!H", head[14:16])[0]
    if version_command >> 4 != 2:
        raise ProxyHeaderError("unknown PROXY version")
    if length != len(body):
        raise ProxyHeaderError("PROXY v2 length does not match")
    command = version_command & 0x0F
    if command == 0:  # LOCAL: the proxy's own connection
        return ProxyHeader("", version=2)
    if command != 1:
        raise ProxyHeaderError("unknown PROXY v2 command")
    family, transport = family_protocol >> 4, family_protocol & 0x0F
    if family == 0 or transport != 1:  # UNSPEC, or not a stream: keep the socket's address
        return ProxyHeader("", version=2)
    if family == 1 and len(body) >= 12:
        src, dst, sport, dport = struct.unpack("!4s4sHH", body[:12])
        return ProxyHeader(str(ipaddress.IPv4Address(src)), sport, str(ipaddress.IPv4Address(dst)), dport, 2)
    if family == 2 and len(body) >= 36:
        src, dst, sport, dport = struct.unpack("!16s16sHH", body[:36])
        return ProxyHeader(str(ipaddress.IPv6Address(src)), sport, str(ipaddress.IPv6Address(dst)), dport, 2)
    raise ProxyHeaderError("PROXY v2 addresses missing or of an unknown family")


async def read_header(reader: asyncio.StreamReader, timeout: float = HEADER_TIMEOUT) -> ProxyHeader:
    """Read exactly one header from ``reader`` (nothing past it), within ``timeout`` seconds.

    Raises :class:`ProxyHeaderError` (malformed, too long), ``TimeoutError`` or
    ``asyncio.IncompleteReadError`` (the peer closed): the caller closes the connection."""
    async with asyncio.timeout(timeout):
        first = await reader.readexactly(len(V1_PREFIX))
        if first == V1_PREFIX:
            line = bytearray(first)
            while not line.endswith(b"\r\n"):
                if len(line) >= V1_MAX:
                    raise ProxyHeaderError("PROXY line too long")
                line += await reader.readexactly(1)
            return parse_v1(bytes(line))
        if first == V2_SIGNATURE[: len(first)]:
            head = first + await reader.readexactly(16 - len(first))
            if not head.startswith(V2_SIGNATURE):
                raise ProxyHeaderError("not a PROXY header")
            length = struct.unpack("!H", head[14:16])[0]
            if length > V2_MAX_BODY:
                raise ProxyHeaderError("PROXY v2 header too long")
            return parse_v2(head, await reader.readexactly(length))
        raise ProxyHeaderError("not a PROXY header")


def header_at_start(data: bytes) -> tuple[ProxyHeader, int] | None:
    """The PROXY header (v1 or v2) at the start of ``data`` and its length, or None if more must come.

    The same rules and bounds as :func:`read_header`, over what a protocol (an ``asyncio.Protocol``,
    which gets no stream to read from) has received so far; raises :class:`ProxyHeaderError`.
    """
    v1, v2 = V1_PREFIX, V2_SIGNATURE
    first = data[: len(v1)]
    if len(first) < len(v1):
        if v1.startswith(first) or v2.startswith(first):
            return None
        raise ProxyHeaderError("not a PROXY header")
    if first == v1:
        end = data.find(b"\r\n", 0, V1_MAX)
        if end < 0:
            if len(data) >= V1_MAX:
                raise ProxyHeaderError("PROXY line too long")
            return None
        return parse_v1(data[: end + 2]), end + 2
    if first != v2[: len(first)]:
        raise ProxyHeaderError("not a PROXY header")
    if not v2.startswith(data[: len(v2)]):
        raise ProxyHeaderError("not a PROXY header")
    if len(data) < 16:
        return None
    head = data[:16]
    length = struct.unpack("!H", head[14:16])[0]
    if length > V2_MAX_BODY:
        raise ProxyHeaderError("PROXY v2 header too long")
    if len(data) < 16 + length:
        return None
    return parse_v2(head, data[16 : 16 + length]), 16 + length


class TrustedProxies:
    """The addresses and networks whose PROXY headers (and relayed logins) are believed; empty = none."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.networks = [ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip()]

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: object) -> bool:
        if not self.networks or not isinstance(address, str) or not address:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)


def quiet(exc: BaseException) -> bool:
    """A connection closed before sending anything (a port check from the proxy's host): not worth a warning."""
    return isinstance(exc, asyncio.IncompleteReadError) and not exc.partial


async def client_address(reader: asyncio.StreamReader, peer: str, trusted: TrustedProxies) -> tuple[str, bool]:
    """The client's address for a connection from ``peer``, and whether a trusted proxy relays it.

    From a trusted proxy the PROXY header is read (errors propagate: close the connection); from
    anyone else nothing is read and ``peer`` stands."""
    if peer not in trusted:
        return peer, False
    header = await read_header(reader)
    return header.source or peer, True
