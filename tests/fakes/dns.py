"""A small authoritative DNS server on loopback for tests (UDP and TCP, dnspython).

It answers from a dict of zones, so tests exercise the real resolver path
instead of patched functions. Reusable by every test that needs DNS (MX for
delivery, TXT for SPF/DKIM/DMARC)::

    from tests.fakes.dns import FakeDNS

    with FakeDNS({
        "example.net": {"MX": [(10, "mx1.example.net")], "TXT": ["v=spf1 -all"]},
        "mx1.example.net": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
        "nomail.example": {"MX": [(0, ".")]},            # null MX (RFC 7505)
        "broken.example": "SERVFAIL",                     # every question fails
    }) as dns_server:
        settings.MAILAPP_DNS_SERVER = dns_server.address   # "127.0.0.1:<port>"
        dns_server.zones["late.example"] = {"A": ["127.0.0.1"]}   # zones may change while it runs

Names are matched case-insensitively, without the final dot. A name that is not
in ``zones`` gets NXDOMAIN; a known name without the asked type gets an empty
NOERROR answer. Record values: MX ``(preference, host)``, A/AAAA address strings,
TXT strings (split into 255-byte chunks), CNAME/PTR/NS host names. ``queries``
lists every (name, type) asked, for tests that check what was looked up.
``ttl`` (default 0: resolvers must not cache, so a test may change a zone and be
seen at once) may be raised for load tests that want caching resolvers.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Zone = dict[str, Any] | str


def _rdata_texts(rdtype: str, values: list[Any]) -> list[str]:
    texts = []
    for value in values:
        if rdtype == "MX":
            preference, host = value
            texts.append(f"{int(preference)} {host if host.endswith('.') else host + '.'}")
        elif rdtype == "TXT":
            data = value.encode() if isinstance(value, str) else bytes(value)
            chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
            texts.append(" ".join('"' + c.decode("latin-1").replace("\\", "\\\\").replace('"', '\\"') + '"'
                                  for c in chunks))
        elif rdtype in ("CNAME", "PTR", "NS"):
            texts.append(value if value.endswith(".") else value + ".")
        else:
            texts.append(str(value))
    return texts


class FakeDNS:
    """A DNS server on 127.0.0.1 answering from ``zones`` over UDP and TCP; use as a context manager."""

    def __init__(self, zones: dict[str, Zone] | None = None, host: str = "127.0.0.1", ttl: int = 0) -> None:
        self.ttl = ttl
        self.zones: dict[str, Zone] = {k.lower().rstrip("."): v for k, v in (zones or {}).items()}
        self.host = host
        self.queries: list[tuple[str, str]] = []
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self.port = 0

    @property
    def address(self) -> str:
        """What ``settings.MAILAPP_DNS_SERVER`` takes: ``"127.0.0.1:port"``."""
        return f"{self.host}:{self.port}"

    # --- answering ------------------------------------------------------------------------

    def answer(self, wire: bytes) -> bytes | None:
        """The response to one query in wire format (None for garbage: dropped, like a real server)."""
        try:
            query = dns.message.from_wire(wire)
        except Exception:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        zone = self.zones.get(name)
        if zone is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif zone == "SERVFAIL":
            response.set_rcode(dns.rcode.SERVFAIL)
        elif isinstance(zone, dict):
            values = zone.get(rdtype) or []
            if values:
                response.answer.append(
                    dns.rrset.from_text_list(question.name, self.ttl, dns.rdataclass.IN, question.rdtype,
                                             _rdata_texts(rdtype, list(values))))
        return response.to_wire()

    # --- serving ----------------------------------------------------------------------------

    def start(self) -> FakeDNS:
        fake = self

        class UDPHandler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply = fake.answer(data)
                if reply is not None:
                    sock.sendto(reply[:65535], self.client_address)

        class TCPHandler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(5)
                for _ in range(100):  # bounded: a client may ask several questions on one connection
                    head = self._read(2)
                    if head is None:
                        return
                    (length,) = struct.unpack("!H", head)
                    body = self._read(length)
                    if body is None:
                        return
                    reply = fake.answer(body)
                    if reply is None:
                        return
                    self.request.sendall(struct.pack("!H", len(reply)) + reply)

            def _read(self, size: int) -> bytes | None:
                data = b""
                while len(data) < size:
                    try:
                        chunk = self.request.recv(size - len(data))
                    except OSError:
                        return None
                    if not chunk:
                        return None
                    data += chunk
                return data

        for _ in range(20):  # find a port free for both UDP and TCP
            udp = socketserver.ThreadingUDPServer((self.host, 0), UDPHandler)
            port = udp.server_address[1]
            tcp = socketserver.ThreadingTCPServer((self.host, port), TCPHandler, bind_and_activate=False)
            tcp.allow_reuse_address = True
            try:
                tcp.server_bind()
                tcp.server_activate()
            except OSError:
                tcp.server_close()
                udp.server_close()
                continue
            break
        else:
            raise RuntimeError("no port free for both UDP and TCP")
        udp.daemon_threads = tcp.daemon_threads = True
        self.port = port
        self._servers = [udp, tcp]
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> FakeDNS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _selftest() -> None:  # pragma: no cover - manual check: python -m tests.fakes.dns
    with FakeDNS({"a.test": {"A": ["127.0.0.1"]}}) as server:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2)
            sock.sendto(dns.message.make_query("a.test", "A").to_wire(), ("127.0.0.1", server.port))
            print(dns.message.from_wire(sock.recv(65535)))


if __name__ == "__main__":  # pragma: no cover
    _selftest()
