"""The EHLO reply, octet for octet, in every session state, is what aiosmtpd's own ``smtp_EHLO``
(through our ``handle_EHLO`` hook and ``MailSMTP.push``) sends: ``MailSMTP.smtp_EHLO`` keeps the
encoded reply per listener and state instead of building, enhancing and encoding each line for
every session.

Each story runs on real listeners three times: twice as it is (the first fills the listener's
cache, the second is answered from it) and once with aiosmtpd's ``smtp_EHLO`` in its place; the
octets received must be the same, and the EHLO replies are also checked against literal ones.
The side effects of EHLO are checked by what a client sees: the name and ESMTP reach the
Received: field, the transaction is reset, the MAIL line limit grows for SIZE and SMTPUTF8.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable

import pytest
from aiosmtpd.smtp import SMTP
from django.conf import settings

from agents.models import QueueMessage
from agents.queue import spool
from agents.smtp.protocol import MailSMTP
from tests.conftest import PASSWORD

from .conftest import Agent, message

PROXY_HEADER = b"PROXY TCP4 203.0.113.9 127.0.0.1 51234 587\r\n"


class Wire:
    """A raw client that keeps the octets of each reply as they came (CR LF included)."""

    def __init__(self, agent: Agent, port: int, *, tls: bool = False, first: bytes = b"") -> None:
        self.agent = agent
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            self.sock = agent.client_context().wrap_socket(self.sock, server_hostname="127.0.0.1")
        if first:
            self.sock.sendall(first)
        self.buffer = b""
        self.greeting = self.reply()

    def reply(self) -> bytes:
        octets = b""
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed after {octets!r} {self.buffer!r}")
                self.buffer += chunk
            line, _, self.buffer = self.buffer.partition(b"\r\n")
            octets += line + b"\r\n"
            if line[3:4] != b"-":
                return octets

    def cmd(self, line: str | bytes) -> bytes:
        self.sock.sendall((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.reply()

    def starttls(self) -> bytes:
        reply = self.cmd("STARTTLS")
        assert reply.startswith(b"220 ")
        self.sock = self.agent.client_context().wrap_socket(self.sock, server_hostname="127.0.0.1")
        return reply

    def close(self) -> None:
        self.sock.close()


Story = Callable[[Agent], list[bytes]]


def _plain_mx(agent: Agent) -> list[bytes]:
    wire = Wire(agent, agent.mx)
    try:
        return [
            wire.cmd("EHLO client.test"),
            wire.cmd("EHLO again.client.test"),  # a second EHLO in the same session
            wire.cmd("RSET"),
            wire.cmd("EHLO after-rset.client.test"),
            wire.cmd("MAIL FROM:<carol@remote.test>"),
            wire.cmd("EHLO mid-transaction.client.test"),
            wire.cmd("RCPT TO:<alice@example.com>"),  # EHLO ended the transaction: 503
            wire.cmd("EHLO"),  # no argument
            wire.cmd("EHLO    "),  # blanks only
            wire.cmd("HELO old.client.test"),
            wire.cmd("EHLO new.client.test"),
            wire.cmd("EHLO ex\u00e4mple.test".encode()),  # UTF-8 in the name (SMTPUTF8 is offered)
            wire.cmd("ehlo lower.case.test"),
            wire.cmd("QUIT"),
        ]
    finally:
        wire.close()


def _starttls(port_of: Callable[[Agent], int]) -> Story:
    def story(agent: Agent) -> list[bytes]:
        wire = Wire(agent, port_of(agent))
        try:
            replies = [wire.cmd("EHLO client.test"), wire.starttls(), wire.cmd("EHLO client.test"),
                       wire.cmd("EHLO again.client.test"), wire.cmd("RSET"), wire.cmd("EHLO client.test")]
            token = base64.b64encode(f"\0alice@example.com\0{PASSWORD}".encode()).decode()
            replies += [wire.cmd(f"AUTH PLAIN {token}"), wire.cmd("EHLO authenticated.client.test"),
                        wire.cmd("QUIT")]
            return replies
        finally:
            wire.close()
    return story


def _implicit_tls(agent: Agent) -> list[bytes]:
    wire = Wire(agent, agent.smtps_port, tls=True)
    try:
        return [wire.cmd("EHLO client.test"), wire.cmd("STARTTLS"), wire.cmd("EHLO client.test"),
                wire.cmd("EHLO"), wire.cmd("QUIT")]
    finally:
        wire.close()


def _submission_plain(agent: Agent) -> list[bytes]:
    wire = Wire(agent, agent.submission)
    try:
        return [wire.cmd("EHLO client.test"), wire.cmd("EHLO"), wire.cmd("MAIL FROM:<alice@example.com>"),
                wire.cmd("QUIT")]
    finally:
        wire.close()


def _through_proxy(agent: Agent) -> list[bytes]:
    wire = Wire(agent, agent.submission, first=PROXY_HEADER)
    try:
        return [
            wire.cmd("EHLO proxy.example.net"),
            wire.cmd("XCLIENT ADDR=203.0.113.9 LOGIN=alice@example.com NAME=[UNAVAILABLE]"),
            wire.cmd("EHLO client.example.net"),
            wire.cmd("EHLO client.example.net"),
            wire.cmd("QUIT"),
        ]
    finally:
        wire.close()


def _aiosmtpds_ehlo(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiosmtpd's own EHLO in place of ours, for the connections made from now on: each line
    built, passed through the hook and pushed (enhanced, encoded, written) one by one."""
    monkeypatch.setattr(MailSMTP, "smtp_EHLO", SMTP.smtp_EHLO)


def _run(story: Story, agent: Agent, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The story as it is, twice (the cache filled, then used), and with aiosmtpd's EHLO: the same octets."""
    first = story(agent)
    second = story(agent)
    with monkeypatch.context() as patched:
        _aiosmtpds_ehlo(patched)
        reference = story(agent)
    assert first == reference
    assert second == reference
    return first


def _ehlo(*keywords: str, size: int | None = None) -> bytes:
    """The literal reply: our name, PIPELINING, SIZE, 8BITMIME, SMTPUTF8, then ``keywords``."""
    words = ["PIPELINING", f"SIZE {size or settings.MAILAPP_MAX_MESSAGE_SIZE}", "8BITMIME", "SMTPUTF8",
             *keywords, "ENHANCEDSTATUSCODES"]
    lines = [f"250-{settings.MAILAPP_HOSTNAME}"] + [f"250-{w}" for w in words[:-1]] + [f"250 {words[-1]}"]
    return "".join(line + "\r\n" for line in lines).encode()


BARE = b"501 5.5.4 Syntax: EHLO hostname\r\n"
AUTH = "AUTH LOGIN PLAIN"


def test_mx_port_without_tls(agent, monkeypatch):
    replies = _run(_plain_mx, agent, monkeypatch)
    offer = _ehlo("STARTTLS")
    assert replies[:4] == [offer, offer, b"250 2.0.0 Ok\r\n", offer]
    assert replies[5:9] == [offer, b"503 5.5.1 Error: need MAIL command\r\n", BARE, BARE]
    assert replies[9] == f"250 {settings.MAILAPP_HOSTNAME}\r\n".encode()
    assert replies[10:13] == [offer, offer, offer]


def test_mx_port_after_starttls(agent, monkeypatch):
    replies = _run(_starttls(lambda a: a.mx), agent, monkeypatch)
    before, after = _ehlo("STARTTLS"), _ehlo(AUTH)
    assert replies[0] == before
    assert replies[2:6] == [after, after, b"250 2.0.0 Ok\r\n", after]
    assert replies[6] == b"235 2.7.0 Authentication successful\r\n"
    assert replies[7] == after


def test_submission_before_and_after_starttls(agent, monkeypatch):
    assert _run(_submission_plain, agent, monkeypatch)[:3] == [
        _ehlo("STARTTLS"), BARE, b"530 5.7.0 Must issue a STARTTLS command first\r\n"]
    replies = _run(_starttls(lambda a: a.submission), agent, monkeypatch)
    assert replies[2] == replies[3] == replies[5] == replies[7] == _ehlo(AUTH)


def test_implicit_tls_port(agent, monkeypatch):
    replies = _run(_implicit_tls, agent, monkeypatch)
    assert replies[:4] == [_ehlo(AUTH), b"503 5.5.1 Error: TLS already active\r\n", _ehlo(AUTH), BARE]


def test_loopback_in_dev_mode_offers_auth_before_tls(smtp_agent, example_com, monkeypatch):
    dev = smtp_agent(dev_mode=True)
    replies = _run(_plain_mx, dev, monkeypatch)
    assert replies[0] == replies[1] == _ehlo("STARTTLS", AUTH)
    assert _run(_submission_plain, dev, monkeypatch)[0] == _ehlo("STARTTLS", AUTH)
    replies = _run(_starttls(lambda a: a.submission), dev, monkeypatch)
    assert replies[0] == _ehlo("STARTTLS", AUTH) and replies[2] == _ehlo(AUTH)


def test_trusted_proxy_before_and_after_xclient(smtp_agent, example_com, monkeypatch):
    agent = smtp_agent(trusted_proxies=["127.0.0.1"])
    replies = _run(_through_proxy, agent, monkeypatch)
    assert replies[0] == replies[2] == replies[3] == _ehlo("STARTTLS", AUTH)
    assert replies[1].startswith(b"220 ")


def test_another_message_size_limit(smtp_agent, example_com, monkeypatch):
    agent = smtp_agent(options={"max_message_size": 1234567})
    assert _run(_plain_mx, agent, monkeypatch)[0] == _ehlo("STARTTLS", size=1234567)


def test_uvloop(smtp_agent, example_com, monkeypatch):
    """The agent's own loop (uvloop), whose transports take another path in ``push``."""
    agent = smtp_agent(uvloop=True)
    assert _run(_plain_mx, agent, monkeypatch)[0] == _ehlo("STARTTLS")
    assert _run(_implicit_tls, agent, monkeypatch)[0] == _ehlo(AUTH)


def _received(agent: Agent, *greetings: str) -> bytes:
    wire = Wire(agent, agent.mx)
    try:
        for line in greetings:
            assert wire.cmd(line).startswith(b"250")
        assert wire.cmd("MAIL FROM:<carol@remote.test>").startswith(b"250")
        assert wire.cmd("RCPT TO:<alice@example.com>").startswith(b"250")
        assert wire.cmd("DATA").startswith(b"354")
        reply = wire.cmd(message() + b".")
        assert reply.startswith(b"250 2.0.0 Ok: queued as ")
        queue_id = reply.decode().split()[-1]
    finally:
        wire.close()
    assert QueueMessage.objects.filter(queue_id=queue_id).exists()
    return spool.read(queue_id)


def test_the_last_greeting_names_the_client_and_the_protocol(agent):
    raw = _received(agent, "EHLO first.test", "EHLO second.test")
    assert raw.startswith(b"Received: from second.test (unknown [127.0.0.1])\r\n") and b"with ESMTP id" in raw
    raw = _received(agent, "EHLO esmtp.test", "HELO smtp.test")
    assert raw.startswith(b"Received: from smtp.test ") and b"with SMTP id" in raw
    raw = _received(agent, "HELO smtp.test", "EHLO esmtp.test")
    assert raw.startswith(b"Received: from esmtp.test ") and b"with ESMTP id" in raw


def test_ehlo_lets_a_mail_command_carry_size_and_smtputf8(agent):
    """aiosmtpd raises the MAIL line limit by 26 (SIZE) and 10 (SMTPUTF8) octets on EHLO: a line
    of 540 octets is read after EHLO and refused as too long after HELO."""
    line = "MAIL FROM:<carol@remote.test> SIZE=1000 " + "X" * 500
    line = line[:540]
    for greeting, too_long in (("HELO client.test", True), ("EHLO client.test", False)):
        wire = Wire(agent, agent.mx)
        try:
            wire.cmd(greeting)
            reply = wire.cmd(line)
        finally:
            wire.close()
        assert (reply == b"500 5.5.2 Error: command line too long\r\n") is too_long, (greeting, reply)


def test_each_session_keeps_its_own_mail_line_limit(agent):
    """aiosmtpd's MAIL line limit was one class-wide dict: a newcomer's connection reset it under a
    session that had said EHLO (its SIZE= line then refused), and each EHLO raised it for everyone,
    without bound. Each session now has its own, set (not raised) by EHLO."""
    line = ("MAIL FROM:<carol@remote.test> SIZE=1000 " + "X" * 500)[:540]
    first = Wire(agent, agent.mx)
    try:
        assert first.cmd("EHLO first.test").startswith(b"250-")
        newcomer = Wire(agent, agent.mx)  # a new connection while the first is in its session
        try:
            assert newcomer.cmd("HELO newcomer.test").startswith(b"250 ")
            assert newcomer.cmd(line) == b"500 5.5.2 Error: command line too long\r\n"  # HELO: 512
        finally:
            newcomer.close()
        reply = first.cmd(line)
        assert not reply.startswith(b"500"), reply  # read, then judged on its merits (X… is no parameter)
    finally:
        first.close()

    repeated = Wire(agent, agent.mx)
    try:
        for _ in range(40):
            assert repeated.cmd("EHLO again.test").startswith(b"250-")
        longer = ("MAIL FROM:<carol@remote.test> SIZE=1000 " + "X" * 800)[:700]
        assert repeated.cmd(longer) == b"500 5.5.2 Error: command line too long\r\n"
    finally:
        repeated.close()
