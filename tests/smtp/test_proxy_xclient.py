"""A mail proxy in front of the smtp agent: from MAILAPP_TRUSTED_PROXIES a PROXY header comes first and
XCLIENT (Postfix's, as nginx sends it) names the client and the login its auth_http endpoint checked;
from anyone else XCLIENT is refused and a PROXY line is a bad command. Malformed headers and
attributes get a clear refusal, never a hang or a traceback."""

from __future__ import annotations

import socket

import pytest

from agents import metrics
from agents.models import LoginFailure, QueueMessage
from tests.conftest import wait_until

from .conftest import message

HEADER = b"PROXY TCP4 203.0.113.9 127.0.0.1 51234 587\r\n"


class Wire:
    """A raw SMTP client that may speak before the greeting (as a proxy does)."""

    def __init__(self, port: int, first: bytes = b"") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        if first:
            self.sock.sendall(first)

    def reply(self) -> str:
        lines: list[bytes] = []
        while not lines or lines[-1][3:4] == b"-":
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed after {lines!r} {self.buffer!r}")
                self.buffer += chunk
            line, _, self.buffer = self.buffer.partition(b"\r\n")
            lines.append(line)
        return "\n".join(x.decode() for x in lines)

    def cmd(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def closed(self) -> bool:
        try:
            return self.sock.recv(65536) == b""
        except (ConnectionResetError, TimeoutError):
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def behind_proxy(smtp_agent, example_com):
    yield smtp_agent(trusted_proxies=["127.0.0.1"])
    metrics.flush()  # the login counters, while the test database still exists


def test_submission_through_the_proxy_takes_the_client_and_the_checked_login(behind_proxy):
    wire = Wire(behind_proxy.submission, HEADER)
    try:
        assert wire.reply().startswith("220")
        assert wire.cmd("EHLO mail.example.com").startswith("250")
        assert wire.cmd("XCLIENT ADDR=203.0.113.9 LOGIN=alice@example.com NAME=[UNAVAILABLE]").startswith("220")
        assert wire.cmd("EHLO client.example.net").startswith("250")  # no STARTTLS asked: the proxy ended TLS
        assert wire.cmd("MAIL FROM:<alice@example.com>").startswith("250")
        assert wire.cmd("RCPT TO:<bob@example.com>").startswith("250")
        assert wire.cmd("DATA").startswith("354")
        wire.sock.sendall(message(sender="alice@example.com", to="bob@example.com") + b".\r\n")
        assert wire.reply().startswith("250")
        wire.cmd("QUIT")
    finally:
        wire.close()
    wait_until(lambda: QueueMessage.objects.exists(), "the queued message")
    queued = QueueMessage.objects.get()
    assert (queued.client_address, queued.auth_user) == ("203.0.113.9", "alice@example.com")


def test_without_xclient_the_submission_port_still_wants_auth(behind_proxy):
    wire = Wire(behind_proxy.submission, HEADER)
    try:
        wire.reply()
        wire.cmd("EHLO client.example.net")
        assert wire.cmd("MAIL FROM:<alice@example.com>").startswith("530")
    finally:
        wire.close()


def test_the_proxied_client_address_reaches_the_login_guard(behind_proxy):
    wire = Wire(behind_proxy.submission, HEADER)
    try:
        wire.reply()
        wire.cmd("EHLO client.example.net")
        assert wire.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHdyb25n").startswith("535")  # a wrong password
    finally:
        wire.close()
    assert list(LoginFailure.objects.values_list("ip", flat=True)) == ["203.0.113.9"]


@pytest.mark.parametrize("first", [
    b"PROXY TCP4 203.0.113 127.0.0.1 1 2\r\n",  # malformed
    b"PROXY " + b"9" * 300 + b"\r\n",  # oversized
    b"EHLO not.a.proxy.header\r\n",  # none at all
])
def test_a_bad_header_from_the_proxy_closes_before_the_greeting(behind_proxy, first):
    wire = Wire(behind_proxy.submission, first)
    try:
        assert wire.closed()
    finally:
        wire.close()


@pytest.mark.parametrize("arguments,code", [
    ("", "501"),
    ("ADDR=not-an-ip", "501"),
    ("ADDR=203.0.113.9 PORT=70000", "501"),
    ("ADDR=203.0.113.9 SHELL=rm", "501"),
    ("ADDR=203.0.113.9 LOGIN=a+ZZb", "501"),  # bad xtext
    ("LOGIN=" + "a" * 400, "501"),
    ("ADDR=IPV6:2001:db8::9", "220"),
])
def test_malformed_xclient_attributes_are_refused(behind_proxy, arguments, code):
    wire = Wire(behind_proxy.submission, HEADER)
    try:
        wire.reply()
        wire.cmd("EHLO mail.example.com")
        assert wire.cmd(f"XCLIENT {arguments}").startswith(code)
        if code == "501":
            assert wire.cmd("MAIL FROM:<alice@example.com>").startswith("530")  # nothing was taken
    finally:
        wire.close()


def test_from_an_untrusted_peer_xclient_and_proxy_are_refused(smtp_agent, example_com):
    agent = smtp_agent(trusted_proxies=["192.0.2.1"])
    wire = Wire(agent.mx)
    try:
        assert wire.reply().startswith("220")  # no header awaited from an ordinary client
        assert wire.cmd("PROXY TCP4 203.0.113.9 127.0.0.1 1 2").startswith("502")  # an unknown command
        wire.cmd("EHLO client.example.net")
        assert wire.cmd("XCLIENT ADDR=203.0.113.9 LOGIN=alice@example.com").startswith("550")
    finally:
        wire.close()
    wire = Wire(agent.submission)
    try:
        wire.reply()
        wire.cmd("EHLO client.example.net")
        assert wire.cmd("XCLIENT LOGIN=alice@example.com").startswith("530")  # STARTTLS first, as for anyone
        assert wire.cmd("MAIL FROM:<alice@example.com>").startswith("530")
    finally:
        wire.close()
