"""SMTP smuggling: only <CR><LF>.<CR><LF> ends DATA, and bare line ends refuse the message."""

from __future__ import annotations

import pytest

from agents.models import QueueMessage

SMUGGLED = b"MAIL FROM:<admin@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n"

VARIANTS = {
    "lf-dot-lf": b"\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-cr": b"\r.\r",
    "crlf-dot-lf": b"\r\n.\n",
    "lf-dot-cr": b"\n.\r",
    "cr-dot-crlf": b"\r.\r\n",
    "crlf-dot-cr": b"\r\n.\r",
}


def open_data(agent):
    client = agent.raw()
    client.cmd("EHLO attacker.test")
    assert client.cmd("MAIL FROM:<carol@remote.test>").startswith("250")
    assert client.cmd("RCPT TO:<alice@example.com>").startswith("250")
    assert client.cmd("DATA").startswith("354")
    return client


@pytest.mark.parametrize("ending", VARIANTS.values(), ids=VARIANTS.keys())
def test_a_fake_end_of_data_neither_splits_nor_passes(agent, ending):
    client = open_data(agent)
    client.send(b"Subject: first\r\n\r\nhello" + ending + SMUGGLED + b".\r\n")
    reply = client.reply()
    assert reply.startswith("550 5.5.2 Error: bare <")
    assert QueueMessage.objects.count() == 0
    assert client.cmd("NOOP") == "250 2.0.0 Ok"  # one reply for one DATA: nothing was smuggled


def test_bare_lf_inside_a_line_is_refused(agent):
    client = open_data(agent)
    assert client.cmd(b"Subject: x\r\n\r\nline one\nline two\r\n.") == "550 5.5.2 Error: bare <LF> received"


def test_bare_cr_is_refused(agent):
    client = open_data(agent)
    assert client.cmd(b"Subject: x\r\n\r\nline one\rline two\r\n.") == "550 5.5.2 Error: bare <CR> received"


def test_dot_stuffed_lines_are_unstuffed_and_do_not_end_data(agent):
    client = open_data(agent)
    reply = client.cmd(b"Subject: dots\r\n\r\n..\r\n..leading\r\n.")
    assert reply.startswith("250 2.0.0 Ok: queued as ")
    from agents.queue import spool

    assert spool.read(reply.rsplit(" ", 1)[-1]).endswith(b"\r\n\r\n.\r\n.leading\r\n")
