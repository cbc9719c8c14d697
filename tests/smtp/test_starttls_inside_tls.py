"""STARTTLS inside TLS (implicit TLS on the SMTPS port, or a second STARTTLS) gets
``503 5.5.1`` (RFC 3207 section 4), and the session goes on: no 220, no broken handshake."""

from tests.conftest import PASSWORD

from .conftest import message


def test_starttls_on_the_implicit_tls_port(agent):
    with agent.smtps() as client:
        client.ehlo("client.test")
        assert b"STARTTLS" not in client.ehlo_resp
        assert client.docmd("STARTTLS") == (503, b"5.5.1 Error: TLS already active")
        assert client.noop()[0] == 250
        client.login("bob@example.com", PASSWORD)
        assert client.sendmail("bob@example.com", ["alice@example.com"], message(sender="bob@example.com")) == {}


def test_a_second_starttls_on_submission(agent):
    with agent.smtp(agent.submission) as client:
        client.starttls(context=agent.client_context())
        client.ehlo("client.test")
        assert not client.has_extn("starttls")
        assert client.docmd("STARTTLS") == (503, b"5.5.1 Error: TLS already active")
        assert client.noop()[0] == 250
        client.login("alice@example.com", PASSWORD)
        assert client.sendmail("alice@example.com", ["bob@example.com"], message(sender="alice@example.com")) == {}
