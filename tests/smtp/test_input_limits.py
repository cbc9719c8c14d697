"""RFC 5321 size limits on addresses, RFC 6531's SMTPUTF8 declaration, and a recipient
flood that keeps the recipients already accepted."""

import pytest

from agents.models import QueueMessage

from .conftest import message


def _mail(agent, sender="carol@remote.test", params=""):
    client = agent.raw()
    client.cmd("EHLO client.test")
    reply = client.cmd(f"MAIL FROM:<{sender}>{params}")
    return client, reply


@pytest.mark.parametrize("sender, why", [
    ("a" * 65 + "@remote.test", "local part exceeds 64 octets"),
    ("a" * 300 + "@remote.test", "local part exceeds 64 octets"),
    ("carol@" + ".".join(["d" * 60] * 5), "domain exceeds 255 octets"),
    ("c" * 60 + "@" + ".".join(["d" * 60] * 3) + ".example.test", "path exceeds 256 octets"),
])
def test_an_oversize_sender_is_refused(agent, sender, why):
    _client, reply = _mail(agent, sender)
    assert reply == f"501 5.1.3 Bad sender address syntax: {why}"


def test_the_largest_local_part_is_taken(agent):
    _client, reply = _mail(agent, "a" * 64 + "@remote.test")
    assert reply == "250 2.1.0 Ok"


def test_an_oversize_recipient_is_refused_and_the_transaction_goes_on(agent):
    client, _ = _mail(agent)
    assert client.cmd("RCPT TO:<" + "b" * 65 + "@example.com>") == (
        "501 5.1.3 Bad recipient address syntax: local part exceeds 64 octets")
    assert client.cmd("RCPT TO:<alice@example.com>") == "250 2.1.5 Ok"


def test_a_utf8_sender_needs_smtputf8(agent):
    _client, reply = _mail(agent, "jösé@remote.test")
    assert reply == "553 5.6.7 Must declare SMTPUTF8 to send unicode address"
    _client, reply = _mail(agent, "jösé@remote.test", " SMTPUTF8")
    assert reply == "250 2.1.0 Ok"


def test_a_utf8_recipient_needs_smtputf8(agent):
    client, _ = _mail(agent)
    assert client.cmd("RCPT TO:<jösé@example.com>") == "553 5.6.7 Must declare SMTPUTF8 to send unicode address"


def test_a_utf8_local_part_counts_in_octets(agent):
    _client, reply = _mail(agent, "é" * 33 + "@remote.test", " SMTPUTF8")  # 33 characters, 66 octets
    assert reply.startswith("501 5.1.3 Bad sender address syntax: local part exceeds 64")


def test_pipelined_recipients_beyond_the_limit_keep_the_transaction(smtp_agent, example_com):
    """10,000 RCPTs in one burst: the first 100 are accepted, the rest get 452 4.5.3, the
    connection stays open and the message is queued (aiosmtpd used to answer 421 at the
    1,000th RCPT and close, losing the transaction)."""
    agent = smtp_agent(options={"max_recipients": 100})
    client, _ = _mail(agent)
    burst = b"RCPT TO:<alice@example.com>\r\n" * 10_000
    client.send(burst)
    replies = [client.reply() for _ in range(10_000)]
    assert replies[:100] == ["250 2.1.5 Ok"] * 100
    assert set(replies[100:]) == {"452 4.5.3 Error: too many recipients"}
    assert client.cmd("DATA").startswith("354")
    client.send(message() + b".\r\n")
    assert client.reply().startswith("250 2.0.0 Ok: queued as ")
    assert {r.address for r in QueueMessage.objects.get().recipients.all()} == {"alice@example.com"}


def test_rcpt_commands_still_have_a_limit(smtp_agent, example_com):
    agent = smtp_agent(max_commands=5)
    client, _ = _mail(agent)
    for _ in range(5):
        assert client.cmd("RCPT TO:<nobody@example.com>").startswith("550 5.1.1")
    assert client.cmd("RCPT TO:<alice@example.com>") == "421 4.7.0 RCPT sent too many times"
    assert client.closed()


def test_smtplib_sees_the_refusals(agent):
    import smtplib

    with agent.smtp() as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("a" * 300 + "@remote.test", ["alice@example.com"], message())
        assert refused.value.smtp_code == 501
        client.rset()
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused_rcpt:
            client.sendmail("carol@remote.test", ["b" * 65 + "@example.com"], message())
        assert [code for code, _ in refused_rcpt.value.recipients.values()] == [501]
    assert not QueueMessage.objects.exists()
