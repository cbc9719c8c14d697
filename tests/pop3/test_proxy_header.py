"""POP3 behind a mail proxy: a trusted proxy's PROXY header gives the client's address to the login
guard and allows USER/PASS on the plain port (the proxy ended the client's TLS); a malformed header
closes before the greeting; from anyone else a PROXY line is an unknown command and plaintext
login stays refused."""

from __future__ import annotations

import socket

import pytest

from agents import config
from agents.models import LoginFailure
from agents.pop3.runner import build_server
from agents.proxyprotocol import TrustedProxies
from agents.store import Store
from agents.tls import settings_server_context
from tests.serverthread import serving


@pytest.fixture
def pop3_behind_proxy(transactional_db, example_com, tmp_path, settings):
    settings.MAILAPP_DEV_MODE = False
    server = build_server(bind="127.0.0.1", port=0, tls_port=0, ssl_context=settings_server_context(),
                          store=Store(tmp_path / "mail"))
    server.config.dev_mode = False
    server.config.trusted_proxies = TrustedProxies(["127.0.0.1"])
    with serving(server):
        yield server  # its stop writes the login counters, while the test database still exists


def talk(port: int, first: bytes, lines: list[bytes]) -> list[bytes]:
    """Send ``first`` at once, then each line after the previous reply; the replies (b"" once closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        if first:
            sock.sendall(first)
        replies = [reader.readline()]
        for line in lines:
            if not replies[-1]:
                break
            sock.sendall(line + b"\r\n")
            replies.append(reader.readline())
        return replies


HEADER = b"PROXY TCP4 203.0.113.9 127.0.0.1 51234 110\r\n"


def test_the_proxy_relays_the_client_and_its_token_logs_in(pop3_behind_proxy):
    port = pop3_behind_proxy.ports[0]
    replies = talk(port, HEADER, [b"USER alice@example.com", b"PASS wrong"])
    assert replies[0].startswith(b"+OK") and replies[2].startswith(b"-ERR")
    assert list(LoginFailure.objects.values_list("ip", flat=True)) == ["203.0.113.9"]
    token = config.proxy_token(config.get_mailbox("alice@example.com"), "pop3").encode()
    replies = talk(port, HEADER, [b"USER alice@example.com", b"PASS " + token, b"STAT", b"QUIT"])
    assert replies[2].startswith(b"+OK") and replies[3].startswith(b"+OK 0 0")


@pytest.mark.parametrize("first", [b"PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n", b"PROXY " + b"x" * 200 + b"\r\n",
                                   b"USER alice@example.com\r\n"])
def test_a_bad_header_from_the_proxy_closes_before_the_greeting(pop3_behind_proxy, first):
    assert talk(pop3_behind_proxy.ports[0], first, []) == [b""]


def test_from_an_untrusted_peer_proxy_is_a_bad_command_and_the_token_no_password(pop3_behind_proxy):
    pop3_behind_proxy.config.trusted_proxies = TrustedProxies(["192.0.2.1"])
    token = config.proxy_token(config.get_mailbox("alice@example.com"), "pop3").encode()
    replies = talk(pop3_behind_proxy.ports[0], b"", [HEADER.strip(), b"USER alice@example.com", b"PASS " + token])
    assert replies[0].startswith(b"+OK") and replies[1].startswith(b"-ERR")
    assert not any(r.startswith(b"+OK Logged") or r.startswith(b"+OK maildrop") for r in replies[2:])
    assert replies[-1].startswith(b"-ERR")
