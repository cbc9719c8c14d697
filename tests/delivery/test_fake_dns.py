"""The loopback DNS server answers over UDP and TCP, and survives garbage."""

import socket

import dns.message
import dns.query
import dns.rcode

from tests.fakes.dns import FakeDNS

ZONES = {"a.test": {"A": ["127.0.0.1"], "MX": [(5, "mx.a.test")], "TXT": ["v=spf1 " + "x" * 300]}}


def test_udp_and_tcp_answers():
    with FakeDNS(ZONES) as server:
        udp = dns.query.udp(dns.message.make_query("a.test", "MX"), "127.0.0.1", port=server.port, timeout=3)
        tcp = dns.query.tcp(dns.message.make_query("a.test", "TXT"), "127.0.0.1", port=server.port, timeout=3)
        missing = dns.query.udp(dns.message.make_query("b.test", "A"), "127.0.0.1", port=server.port, timeout=3)
    assert udp.answer[0][0].exchange.to_text() == "mx.a.test."
    assert b"".join(tcp.answer[0][0].strings) == b"v=spf1 " + b"x" * 300
    assert missing.rcode() == dns.rcode.NXDOMAIN


def test_garbage_is_dropped_and_the_server_keeps_answering():
    with FakeDNS(ZONES) as server:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"\x00garbage", ("127.0.0.1", server.port))
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
            sock.sendall(b"\x00\x05hello")
        answer = dns.query.udp(dns.message.make_query("a.test", "A"), "127.0.0.1", port=server.port, timeout=3)
    assert answer.answer[0][0].address == "127.0.0.1"
