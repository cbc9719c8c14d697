"""STARTTLS and implicit TLS with the appliance's self-signed certificate; LOGIN refused before TLS."""

import imaplib

import pytest

from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE


def test_login_disabled_before_starttls(strict_imap_server):
    imap = strict_imap_server.client()
    assert "LOGINDISABLED" in imap.capabilities and "STARTTLS" in imap.capabilities
    assert "AUTH=PLAIN" not in imap.capabilities
    typ, data = imap._simple_command("LOGIN", ALICE, f'"{PASSWORD}"')
    assert typ == "NO" and b"PRIVACYREQUIRED" in data[0]


def test_authenticate_refused_before_starttls(strict_imap_server):
    imap = strict_imap_server.client()
    try:
        imap.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{PASSWORD}".encode())
    except imap.error as exc:
        assert "PRIVACYREQUIRED" in str(exc)
    else:
        raise AssertionError("AUTHENTICATE succeeded without TLS")


def test_starttls_then_login(strict_imap_server):
    imap = strict_imap_server.client()
    imap.starttls(strict_imap_server.tls_client_context())
    assert "LOGINDISABLED" not in imap.capabilities and "STARTTLS" not in imap.capabilities
    assert imap.login(ALICE, PASSWORD)[0] == "OK"
    assert imap.select("INBOX")[0] == "OK"


def test_implicit_tls(strict_imap_server):
    imap = imaplib.IMAP4_SSL(strict_imap_server.host, strict_imap_server.tls_port,
                             ssl_context=strict_imap_server.tls_client_context(), timeout=10)
    strict_imap_server.clients.append(imap)
    assert imap.sock.version().startswith("TLS")
    assert imap.login(ALICE, PASSWORD)[0] == "OK"


def test_dev_mode_allows_plain_login_on_loopback(imap_server):
    imap = imap_server.client()
    assert "LOGINDISABLED" not in imap.capabilities
    assert imap.login(ALICE, PASSWORD)[0] == "OK"


def test_plaintext_pipelined_after_starttls_is_refused(strict_imap_server):
    import socket

    with socket.create_connection((strict_imap_server.host, strict_imap_server.port), timeout=5) as sock:
        f = sock.makefile("rwb")
        f.readline()
        f.write(f'a STARTTLS\r\nb LOGIN {ALICE} "{PASSWORD}"\r\n'.encode())
        f.flush()
        replies = []
        while line := f.readline():
            replies.append(line)
        assert replies[0].startswith(b"* BYE")  # never "b OK": the plaintext LOGIN is not taken


def test_dev_mode_exemption_is_for_loopback_peers_only():
    from agents.peers import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("192.0.2.7") and not is_loopback("2001:db8::1") and not is_loopback("not an ip")


def test_session_from_remote_peer_refuses_login_without_tls(imap_store):
    from agents.imap.parser import parse_command
    from agents.imap.session import Session
    from tests.imap.conftest import fake_authenticate

    session = Session(imap_store.mailbox, fake_authenticate, peer="192.0.2.7", plaintext_login=False)
    assert "LOGINDISABLED" in session.capabilities()
    reply = session.execute(parse_command(f'a LOGIN {ALICE} "{PASSWORD}"'.encode()))
    assert reply.lines[-1].startswith(b"a NO [PRIVACYREQUIRED]") and session.state == "nonauth"


def _starttls_inside_tls(imap):
    with pytest.raises(imap.error, match="BAD.*already active"):
        imap._simple_command("STARTTLS")
    assert imap.noop()[0] == "OK"  # the session goes on, no broken handshake
    assert imap.login(ALICE, PASSWORD)[0] == "OK"


def test_starttls_on_the_implicit_tls_port_is_bad(strict_imap_server):
    imap = imaplib.IMAP4_SSL(strict_imap_server.host, strict_imap_server.tls_port,
                             ssl_context=strict_imap_server.tls_client_context(), timeout=10)
    strict_imap_server.clients.append(imap)
    _starttls_inside_tls(imap)


def test_a_second_starttls_is_bad(strict_imap_server):
    imap = strict_imap_server.client()
    imap.starttls(strict_imap_server.tls_client_context())
    _starttls_inside_tls(imap)
