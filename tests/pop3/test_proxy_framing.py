"""The PROXY header as the protocol connection receives it: in pieces, or with commands after it."""

from __future__ import annotations

import socket
import struct

import pytest

from agents.proxyprotocol import ProxyHeaderError, TrustedProxies, header_at_start

V1 = b"PROXY TCP4 203.0.113.9 127.0.0.1 51234 110\r\n"
V2 = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", 12)
      + bytes([198, 51, 100, 7, 127, 0, 0, 1]) + struct.pack("!HH", 40000, 110))  # fmt: skip


@pytest.mark.parametrize(("header", "source"), [(V1, "203.0.113.9"), (V2, "198.51.100.7")])
def test_a_header_arriving_in_pieces_is_found_once_whole(header, source):
    for cut in range(len(header)):
        assert header_at_start(header[:cut]) is None, cut
    found, length = header_at_start(header + b"USER alice\r\n")
    assert (found.source, length) == (source, len(header))


@pytest.mark.parametrize("data", [b"USER alice\r\n", b"PROXZ", b"\r\n\r\n\x00\r\nQUIX\n", b"PROXY " + b"x" * 120])
def test_anything_else_is_refused_as_soon_as_it_shows(data):
    with pytest.raises(ProxyHeaderError):
        header_at_start(data)


def test_commands_in_the_same_segment_as_the_header_are_answered_after_the_greeting(pop3):
    pop3.server.config.trusted_proxies = TrustedProxies(["127.0.0.1"])
    with socket.create_connection(("127.0.0.1", pop3.port), timeout=10) as sock:
        sock.sendall(V1 + b"CAPA\r\n")
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"+OK")  # the greeting
        assert reader.readline().startswith(b"+OK Capability")
        sock.sendall(b"QUIT\r\n")
