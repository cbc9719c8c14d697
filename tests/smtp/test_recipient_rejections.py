"""RCPT TO answers, one by one, with Postfix's wording."""

from __future__ import annotations

from agents.models import TrafficCounter


def session(agent):
    client = agent.raw()
    client.cmd("EHLO client.test")
    assert client.cmd("MAIL FROM:<carol@remote.test>").startswith("250")
    return client


def test_unknown_local_user(agent):
    reply = session(agent).cmd("RCPT TO:<nobody@example.com>")
    assert reply == "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"


def test_relay_to_a_remote_domain_without_auth(agent):
    reply = session(agent).cmd("RCPT TO:<dave@elsewhere.test>")
    assert reply == "554 5.7.1 <dave@elsewhere.test>: Relay access denied"


def test_relay_denied_also_from_loopback_in_dev_mode(smtp_agent, example_com):
    dev = smtp_agent(dev_mode=True)
    assert session(dev).cmd("RCPT TO:<dave@elsewhere.test>").startswith("554 5.7.1")


def test_too_many_recipients(smtp_agent, example_com, make_mailbox):
    agent = smtp_agent(options={"max_recipients": 2})
    client = session(agent)
    assert client.cmd("RCPT TO:<alice@example.com>").startswith("250")
    assert client.cmd("RCPT TO:<bob@example.com>").startswith("250")
    assert client.cmd("RCPT TO:<admin@example.com>") == "452 4.5.3 Error: too many recipients"


def test_recipient_without_domain(agent):
    assert session(agent).cmd("RCPT TO:<alice>").startswith("504 5.5.2 <alice>: Recipient address rejected")


def test_malformed_recipient(agent):
    assert session(agent).cmd("RCPT TO:<a@b@c>").startswith("501 5.1.3")


def test_rcpt_before_mail(agent):
    client = agent.raw()
    client.cmd("EHLO client.test")
    assert client.cmd("RCPT TO:<alice@example.com>") == "503 5.5.1 Error: need MAIL command"


def test_data_before_rcpt(agent):
    assert session(agent).cmd("DATA") == "503 5.5.1 Error: need RCPT command"


def test_unknown_rcpt_parameter(agent):
    assert session(agent).cmd("RCPT TO:<alice@example.com> FOO=bar").startswith("555 5.5.4")


def test_domain_alias_recipient_is_accepted(agent):
    from webadmin.models import Domain, DomainAlias

    DomainAlias.objects.create(name="example.net", target=Domain.objects.get(name="example.com"))
    assert session(agent).cmd("RCPT TO:<alice@example.net>").startswith("250 2.1.5")


def test_rejections_reach_the_traffic_counter(agent):
    client = session(agent)
    client.cmd("RCPT TO:<nobody@example.com>")
    client.cmd("RCPT TO:<dave@elsewhere.test>")
    agent.server.tally.flush()
    assert sum(TrafficCounter.objects.filter(event="rejected").values_list("count", flat=True)) >= 2


def test_bare_postmaster_is_accepted_for_our_domain(smtp_agent, example_com):
    agent = smtp_agent(options={"hostname": "mx.example.com"})
    assert session(agent).cmd("RCPT TO:<Postmaster>") == "250 2.1.5 Ok"
