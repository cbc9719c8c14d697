"""PROXY protocol headers (v1, v2) from a mail proxy: believed from MAILAPP_TRUSTED_PROXIES only, parsed
strictly, bounded in size and time; a malformed one closes the connection before the greeting, and
from anyone else a PROXY line is an ordinary bad command. The login guard sees the relayed client."""

from __future__ import annotations

import asyncio
import imaplib
import socket
import struct

import pytest

from agents import config, metrics
from agents.imap.service import authenticate
from agents.loginguard.db import mail_guard
from agents.models import LoginFailure
from agents.proxyprotocol import (
    V1_MAX,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    TrustedProxies,
    parse_v1,
    parse_v2,
    read_header,
)
from agents.store import Store
from agents.tls import ensure_certificate
from tests.conftest import PASSWORD
from tests.imap.conftest import _run_server


def v2(command: int, family: int, body: bytes, version: int = 2) -> bytes:
    return V2_SIGNATURE + bytes([version << 4 | command, family << 4 | 1]) + struct.pack("!H", len(body)) + body


def test_v1_lines_give_the_client_address():
    assert parse_v1(b"PROXY TCP4 203.0.113.9 192.0.2.1 51234 143\r\n") == ProxyHeader(
        "203.0.113.9", 51234, "192.0.2.1", 143)
    assert parse_v1(b"PROXY TCP6 2001:db8::9 2001:db8::1 51234 110\r\n").source == "2001:db8::9"
    assert parse_v1(b"PROXY UNKNOWN\r\n").source == ""  # the proxy's own connection: the socket's address stands
    assert parse_v1(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n").source == ""


@pytest.mark.parametrize("line", [
    b"PROXY TCP4 203.0.113.9 192.0.2.1 51234\r\n",  # a field missing
    b"PROXY TCP4 203.0.113.9 192.0.2.1 51234 143 extra\r\n",
    b"PROXY TCP4 2001:db8::9 192.0.2.1 51234 143\r\n",  # IPv6 under TCP4
    b"PROXY TCP6 203.0.113.9 2001:db8::1 1 2\r\n",
    b"PROXY TCP4 203.0.113.999 192.0.2.1 1 2\r\n",
    b"PROXY TCP4 203.0.113.9 192.0.2.1 99999 143\r\n",  # port out of range
    b"PROXY TCP4 203.0.113.9 192.0.2.1 0143 143\r\n",  # leading zero
    b"PROXY TCP4 203.0.113.9 192.0.2.1 -1 143\r\n",
    b"PROXY TCP4  203.0.113.9 192.0.2.1 1 2\r\n",  # two spaces
    b"PROXY UDP4 203.0.113.9 192.0.2.1 1 2\r\n",
    b"PROXY TCP4 203.0.113.9 192.0.2.1 1 2\n",  # LF only
    b"PROXY TCP4 203.0.113.\xff 192.0.2.1 1 2\r\n",  # not ASCII
    b"proxy TCP4 203.0.113.9 192.0.2.1 1 2\r\n",
    b"PROXY TCP4 " + b"1" * 100 + b"\r\n",  # longer than the specification's 107 octets
])
def test_malformed_v1_lines_are_refused(line):
    with pytest.raises(ProxyHeaderError):
        parse_v1(line)


def test_v2_headers_give_the_client_address():
    body4 = struct.pack("!4s4sHH", socket.inet_aton("203.0.113.9"), socket.inet_aton("192.0.2.1"), 51234, 110)
    header = v2(1, 1, body4 + b"\x04\x00\x01x")  # a TLV after the addresses is skipped
    assert parse_v2(header[:16], header[16:]) == ProxyHeader("203.0.113.9", 51234, "192.0.2.1", 110, 2)
    body6 = socket.inet_pton(socket.AF_INET6, "2001:db8::9") + socket.inet_pton(socket.AF_INET6, "2001:db8::1") \
        + struct.pack("!HH", 1, 2)
    assert parse_v2(v2(1, 2, body6)[:16], body6).source == "2001:db8::9"
    assert parse_v2(v2(0, 0, b"")[:16], b"").source == ""  # LOCAL


@pytest.mark.parametrize("header", [
    v2(1, 1, b"\x01\x02\x03"),  # addresses cut short
    v2(1, 1, b"x" * 12, version=1),  # not version 2
    v2(2, 1, b"x" * 12),  # unknown command
    v2(1, 7, b"x" * 40),  # unknown family
])
def test_malformed_v2_headers_are_refused(header):
    with pytest.raises(ProxyHeaderError):
        parse_v2(header[:16], header[16:])


def read(data: bytes, timeout: float = 2.0) -> ProxyHeader:
    async def run() -> ProxyHeader:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_header(reader, timeout)

    return asyncio.run(run())


def test_the_reader_takes_the_header_and_nothing_after_it():
    async def run() -> tuple[ProxyHeader, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(b"PROXY TCP4 203.0.113.9 192.0.2.1 1 2\r\na LOGIN x y\r\n")
        reader.feed_eof()
        return await read_header(reader), await reader.read()

    header, rest = asyncio.run(run())
    assert header.source == "203.0.113.9" and rest == b"a LOGIN x y\r\n"


def test_the_reader_bounds_size_and_time():
    with pytest.raises(ProxyHeaderError, match="too long"):
        read(b"PROXY " + b"9" * 5000)  # no CRLF: refused at 107 octets, never read to the end
    with pytest.raises(ProxyHeaderError, match="too long"):
        read(V2_SIGNATURE + b"\x21\x11\xff\xff" + b"x" * 100)  # announces 65,535 octets
    with pytest.raises(ProxyHeaderError):
        read(b"a LOGIN alice secret\r\n")  # no header at all
    with pytest.raises(asyncio.IncompleteReadError):
        read(b"PROXY TCP4 203.0.113.9")  # closed in the middle

    async def silent() -> None:
        reader = asyncio.StreamReader()  # the proxy connects and says nothing
        await read_header(reader, 0.2)

    with pytest.raises(TimeoutError):
        asyncio.run(silent())
    assert V1_MAX == 107


def test_trusted_proxies_match_addresses_and_networks_only():
    trusted = TrustedProxies(["10.1.0.0/16", "192.0.2.7", "2001:db8::/64"])
    assert "10.1.2.3" in trusted and "192.0.2.7" in trusted and "2001:db8::5" in trusted
    assert "::ffff:10.1.2.3" in trusted  # IPv4 on a dual-stack socket
    assert "10.2.0.1" not in trusted and "192.0.2.8" not in trusted and "not an address" not in trusted
    assert not TrustedProxies([]) and "127.0.0.1" not in TrustedProxies([])
    with pytest.raises(ValueError):
        TrustedProxies(["10.0.0.0/99"])


# --- on a real IMAP listener --------------------------------------------------------------------


@pytest.fixture
def imap_behind_proxy(transactional_db, example_com, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_certificate(cert, key, "localhost")
    store = Store(tmp_path / "mail")
    for running in _run_server(store, (cert, key), dev_mode=False, auth=authenticate, throttle=mail_guard()):
        running.server.trusted_proxies = TrustedProxies(["127.0.0.1"])
        yield running
    metrics.flush()  # the login counters, while the test database still exists


def talk(port: int, data: bytes, *, read_greeting: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        if read_greeting:
            sock.recv(4096)
        sock.sendall(data)
        sock.settimeout(10)
        chunks = []
        while True:
            try:
                chunk = sock.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"a OK" in b"".join(chunks) or b"a NO" in b"".join(chunks) or b"a BAD" in b"".join(chunks):
                break
        return b"".join(chunks)


def test_a_trusted_proxy_relays_the_client_address_to_the_login_guard(imap_behind_proxy):
    answer = talk(imap_behind_proxy.port, b"PROXY TCP4 203.0.113.9 127.0.0.1 51234 143\r\n"
                                          b"a LOGIN alice@example.com wrong\r\n")
    assert b"* OK" in answer and b"a NO" in answer
    assert list(LoginFailure.objects.values_list("ip", flat=True)) == ["203.0.113.9"]


def test_a_malformed_or_oversized_header_from_the_proxy_closes_before_the_greeting(imap_behind_proxy):
    for junk in (b"PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n", b"PROXY " + b"A" * 300 + b"\r\n", b"a LOGIN x y\r\n",
                 V2_SIGNATURE + b"\x21\x11\x7f\xff"):
        assert talk(imap_behind_proxy.port, junk) == b"", junk
    assert not LoginFailure.objects.exists()


def test_from_an_untrusted_peer_a_proxy_header_is_a_bad_command(imap_behind_proxy):
    imap_behind_proxy.server.trusted_proxies = TrustedProxies(["192.0.2.1"])  # not us
    answer = talk(imap_behind_proxy.port, b"PROXY TCP4 203.0.113.9 127.0.0.1 51234 143\r\n"
                                          b"a LOGIN alice@example.com wrong\r\n", read_greeting=True)
    assert b"BAD" in answer
    assert b"a NO" in answer  # LOGINDISABLED: plaintext LOGIN is not allowed from a client
    assert not LoginFailure.objects.filter(ip="203.0.113.9").exists()


def test_the_proxy_token_logs_in_from_the_trusted_proxy_only(imap_behind_proxy):
    token = config.proxy_token(config.get_mailbox("alice@example.com"), "imap")
    answer = talk(imap_behind_proxy.port, b"PROXY TCP4 203.0.113.9 127.0.0.1 51234 143\r\n"
                                          b"a LOGIN alice@example.com " + token.encode() + b"\r\n")
    assert b"a OK" in answer, answer
    pop_token = config.proxy_token(config.get_mailbox("alice@example.com"), "pop3")
    answer = talk(imap_behind_proxy.port, b"PROXY TCP4 203.0.113.9 127.0.0.1 51234 143\r\n"
                                          b"a LOGIN alice@example.com " + pop_token.encode() + b"\r\n")
    assert b"a NO" in answer, "a token for POP3 opened IMAP"
    imap_behind_proxy.server.trusted_proxies = TrustedProxies(["192.0.2.1"])
    client = imaplib.IMAP4("127.0.0.1", imap_behind_proxy.port, timeout=10)
    try:
        client.starttls(ssl_context=imap_behind_proxy_client_context())
        with pytest.raises(imaplib.IMAP4.error):
            client.login("alice@example.com", token)  # the token is no password for anyone else
        client.login("alice@example.com", PASSWORD)
    finally:
        client.logout()


def test_a_password_change_voids_an_issued_token(imap_behind_proxy):
    from webadmin.models import Mailbox

    token = config.proxy_token(config.get_mailbox("alice@example.com"), "imap")
    mailbox = Mailbox.objects.get(local_part="alice")
    mailbox.set_password("a new password entirely")
    mailbox.save()
    answer = talk(imap_behind_proxy.port, b"PROXY TCP4 203.0.113.9 127.0.0.1 51234 143\r\n"
                                          b"a LOGIN alice@example.com " + token.encode() + b"\r\n")
    assert b"a NO" in answer


def imap_behind_proxy_client_context():
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
