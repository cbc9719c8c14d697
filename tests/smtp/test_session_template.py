"""A connection set up from its listener's template is the connection aiosmtpd's own set-up makes.

The first connection of a listener runs aiosmtpd's ``SMTP.__init__`` in full and keeps what it
worked out (``agents.smtp.protocol.SessionTemplate``); the next ones copy it. Compared here
attribute by attribute on each of the three listeners (MX, submission with STARTTLS, SMTPS), and
then used: AUTH and STARTTLS on connections after the first.
"""

from __future__ import annotations

import asyncio
import base64

from aiosmtpd.smtp import SMTP

from agents.smtp.protocol import MailSMTP
from tests.conftest import PASSWORD


def _sessions(agent, listener_name: str) -> tuple[MailSMTP, MailSMTP]:
    server = agent.server
    listener = next(item for item in server.config.listeners if item.name == listener_name)
    make = server._factory(listener)

    async def build() -> tuple[MailSMTP, MailSMTP]:
        return make(), make()

    return asyncio.run_coroutine_threadsafe(build(), agent.loop).result(5)


def _same(full: MailSMTP, copied: MailSMTP, set_up: set[str]) -> None:
    """``set_up``: the attributes aiosmtpd's own set-up gave ``full`` (ours are set by our __init__ either way)."""
    assert set(full.__dict__) == set(copied.__dict__)
    for name in ("_smtp_methods", "_auth_methods"):
        assert full.__dict__[name].keys() == copied.__dict__[name].keys(), name
    for command, method in copied._smtp_methods.items():
        assert method.__self__ is copied and method.__func__ is full._smtp_methods[command].__func__, command
    for mechanism, impl in copied._auth_methods.items():
        reference = full._auth_methods[mechanism]
        assert impl.is_builtin == reference.is_builtin, mechanism
        assert impl.method.__func__ is reference.method.__func__, mechanism
        owner = copied if impl.is_builtin else copied.event_handler
        assert impl.method.__self__ is owner, mechanism
    assert copied._stream_reader_wr() is not full._stream_reader_wr(), "each connection reads its own stream"
    assert copied._closed is not full._closed
    per_connection = {"_smtp_methods", "_auth_methods", "_stream_reader_wr", "_strong_reader", "_closed",
                      "_drain_waiters", "_client_connected_cb", "_source_traceback"}
    for name, value in full.__dict__.items():
        if name in set_up and name not in per_connection:
            assert copied.__dict__[name] == value, name


def test_each_listener_copies_what_aiosmtpd_works_out(smtp_agent, monkeypatch):
    agent = smtp_agent()
    full_setups: list[object] = []
    set_up: set[str] = set()
    original = SMTP.__init__

    def counted(self, *args, **kwargs):
        full_setups.append(self)
        before = set(self.__dict__)
        original(self, *args, **kwargs)
        set_up.update(set(self.__dict__) - before)

    monkeypatch.setattr(SMTP, "__init__", counted)
    for listener in ("smtp", "submission", "smtps"):
        full, copied = _sessions(agent, listener)
        assert full_setups[-1] is full, "the first connection of a listener runs aiosmtpd's set-up"
        _same(full, copied, set_up)
    assert len(full_setups) == 3, "later connections copy the template"


def test_later_connections_authenticate_and_start_tls(agent):
    address, password = "alice@example.com", PASSWORD
    for _ in range(3):  # the first connection of each listener makes its template, the next use it
        with agent.smtps() as client:
            assert client.ehlo()[0] == 250
            token = base64.b64encode(f"\0{address}\0{password}".encode()).decode()
            assert client.docmd("AUTH", f"PLAIN {token}")[0] == 235
        client = agent.smtp(agent.submission)
        client.ehlo()
        assert client.starttls(context=agent.client_context())[0] == 220
        assert client.ehlo()[0] == 250 and "AUTH LOGIN PLAIN" in client.ehlo_resp.decode()
        client.quit()


def test_the_mail_line_limit_does_not_grow_with_connections(agent):
    """aiosmtpd raises a class-wide MAIL line limit at each EHLO and clears it for each connection;
    a connection made from the template clears it too, or 20 EHLOs would let a 600-octet MAIL in."""
    for _ in range(20):
        client = agent.smtp()
        client.ehlo()
        client.quit()
    client = agent.smtp()
    client.ehlo()
    code, text = client.docmd("MAIL", "FROM:<a@remote.test> X-PAD=" + "x" * 560)
    assert (code, text.decode()) == (500, "5.5.2 Error: command line too long")
    client.quit()
