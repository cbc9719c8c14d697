"""STLS (RFC 2595) and implicit TLS with the appliance's certificate; plaintext login only under TLS."""

from __future__ import annotations

import poplib
import socket
import ssl

import pytest

from tests.conftest import PASSWORD, read_until_closed

from .conftest import client_context


def test_stls_then_login_verifies_the_appliance_certificate(pop3):
    pop3.deliver("alice@example.com", b"Subject: tls\r\n\r\nsecret\r\n")
    client = pop3.connect()
    client.stls(context=client_context())
    assert isinstance(client.sock, ssl.SSLSocket)
    assert "STLS" not in client.capa()
    client.user("alice@example.com")
    client.pass_(PASSWORD)
    assert client.retr(1)[1][-1] == b"secret"
    client.quit()


def test_implicit_tls_port(pop3):
    client = pop3.connect_tls()
    client.user("alice@example.com")
    client.pass_(PASSWORD)
    assert client.stat() == (0, 0)
    client.quit()


def test_plaintext_login_is_refused_off_dev_mode_until_stls(pop3):
    pop3.server.config.dev_mode = False
    client = pop3.connect()
    capa = client.capa()
    assert "USER" not in capa and "SASL" not in capa and "STLS" in capa
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.user("alice@example.com")
    client.stls(context=client_context())
    client.user("alice@example.com")
    client.pass_(PASSWORD)
    client.quit()


def test_commands_pipelined_after_stls_are_discarded_not_run(pop3, raw_session):
    """STARTTLS command injection (CVE-2011-0411 class): plaintext after STLS must not execute."""
    raw = raw_session()
    raw.send(b"STLS\r\nUSER alice@example.com\r\n")
    assert raw.readline().startswith(b"+OK")
    tls = client_context().wrap_socket(raw.sock, server_hostname="localhost")
    tls.settimeout(10)
    tls.sendall(b"PASS " + PASSWORD.encode() + b"\r\n")
    assert tls.recv(1000).startswith(b"-ERR")  # the injected USER was thrown away
    tls.close()


def test_garbage_instead_of_a_tls_handshake_closes_quietly(pop3):
    with socket.create_connection(("127.0.0.1", pop3.tls_port), timeout=10) as sock:
        sock.sendall(b"USER alice\r\n" * 10)
        received = read_until_closed(sock)  # a server that kept the connection open times out here
    # At most a TLS alert record (content type 21), never a POP3 reply in clear text.
    assert received == b"" or received[:1] == b"\x15", received
    client = pop3.connect_tls()  # and keeps serving others
    client.quit()


@pytest.mark.parametrize("how", ["implicit", "after_stls"])
def test_stls_inside_tls_is_an_error_and_the_session_goes_on(pop3, how):
    if how == "implicit":
        client = pop3.connect_tls()
    else:
        client = pop3.connect()
        client.stls(context=client_context())
    with pytest.raises(poplib.error_proto, match="TLS already active"):
        client._shortcmd("STLS")
    assert "USER" in client.capa()  # the session goes on under the first TLS
    client.user("alice@example.com")
    client.pass_(PASSWORD)
    assert client.stat() == (0, 0)
    client.quit()
