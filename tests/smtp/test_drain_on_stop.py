"""A stopping agent lets a transaction under way finish and refuses new ones with 421."""

from tests.smtp.conftest import message


def test_a_draining_agent_finishes_the_open_transaction_and_refuses_new_ones(agent):
    client = agent.raw(agent.mx)
    assert client.greeting.startswith("220")
    assert client.cmd("EHLO client.test").startswith("250")
    assert client.cmd("MAIL FROM:<carol@remote.test>").startswith("250")
    assert client.cmd("RCPT TO:<alice@example.com>").startswith("250")
    agent.loop.call_soon_threadsafe(agent.server.drain)
    assert client.cmd("DATA").startswith("354")
    client.send(message())
    assert client.cmd(".").startswith("250 2.0.0")
    assert client.cmd("MAIL FROM:<carol@remote.test>").startswith("421 4.3.2")
    client.close()
