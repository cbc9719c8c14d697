"""EHLO advertises what a mature MTA does, and AUTH only where it may be used."""

from __future__ import annotations

from django.conf import settings


def keywords(reply: str) -> list[str]:
    return [line[4:] for line in reply.splitlines()[1:]]


def test_ehlo_on_the_mx_port_before_tls(agent):
    client = agent.raw()
    reply = client.cmd("EHLO client.test")
    assert reply.splitlines()[0] == f"250-{settings.MAILAPP_HOSTNAME}"
    words = keywords(reply)
    assert words == [
        "PIPELINING", f"SIZE {settings.MAILAPP_MAX_MESSAGE_SIZE}", "8BITMIME", "SMTPUTF8", "STARTTLS",
        "ENHANCEDSTATUSCODES",
    ]
    assert reply.splitlines()[-1] == "250 ENHANCEDSTATUSCODES"


def test_greeting_names_the_host(agent):
    assert agent.raw().greeting == f"220 {settings.MAILAPP_HOSTNAME} ESMTP mailappliance"


def test_auth_appears_after_starttls_and_starttls_disappears(agent):
    with agent.smtp() as client:
        client.ehlo("client.test")
        client.starttls(context=agent.client_context())
        code, reply = client.ehlo("client.test")
    text = reply.decode()
    assert code == 250 and "AUTH LOGIN PLAIN" in text and "STARTTLS" not in text


def test_implicit_tls_port_offers_auth_at_once(agent):
    with agent.smtps() as client:
        code, reply = client.ehlo("client.test")
    assert "AUTH LOGIN PLAIN" in reply.decode() and "STARTTLS" not in reply.decode()


def test_loopback_client_in_dev_mode_sees_auth_without_tls(smtp_agent, example_com):
    dev = smtp_agent(dev_mode=True)
    reply = dev.raw().cmd("EHLO client.test")
    assert "250-AUTH LOGIN PLAIN" in reply


def test_helo_gets_a_plain_greeting(agent):
    assert agent.raw().cmd("HELO old.client.test") == f"250 {settings.MAILAPP_HOSTNAME}"
