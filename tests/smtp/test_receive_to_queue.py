"""A message accepted on the MX port is in the queue (spool file + rows) when 250 comes."""

from __future__ import annotations

from agents.models import QueueMessage
from agents.queue import spool

from .conftest import message


def queued_id(reply: bytes) -> str:
    return reply.decode().rsplit(" ", 1)[-1]


def test_mx_port_queues_a_message_for_a_local_mailbox(agent):
    with agent.smtp() as client:
        client.ehlo("client.remote.test")
        client.mail("carol@remote.test")
        client.rcpt("alice@example.com")
        code, reply = client.data(message())
    assert code == 250 and reply.startswith(b"2.0.0 Ok: queued as ")
    queue_id = queued_id(reply)
    row = QueueMessage.objects.get(queue_id=queue_id)
    assert row.sender == "carol@remote.test"
    assert list(row.recipients.values_list("address", flat=True)) == ["alice@example.com"]
    assert row.source == "smtp" and row.client_address == "127.0.0.1" and row.client_name == "client.remote.test"
    assert row.subject == "Hello"
    assert spool.exists(queue_id)


def test_received_header_names_client_host_protocol_and_queue_id(agent):
    with agent.smtp() as client:
        client.ehlo("client.remote.test")
        client.sendmail("carol@remote.test", ["alice@example.com"], message())
    queue_id = QueueMessage.objects.get().queue_id
    raw = spool.read(queue_id)
    assert raw.startswith(b"Received: from client.remote.test (unknown [127.0.0.1])\r\n")
    assert f"with ESMTP id {queue_id}".encode() in raw
    assert b"for <alice@example.com>;" in raw


def test_null_sender_is_accepted_for_bounces(agent):
    client = agent.raw()
    client.cmd("EHLO bounce.remote.test")
    assert client.cmd("MAIL FROM:<>").startswith("250 2.1.0")
    assert client.cmd("RCPT TO:<alice@example.com>").startswith("250 2.1.5")
    assert client.cmd("DATA").startswith("354")
    reply = client.cmd(b"Subject: bounce\r\n\r\nundeliverable\r\n.")
    assert reply.startswith("250 2.0.0 Ok: queued as ")
    assert QueueMessage.objects.get(queue_id=reply.rsplit(" ", 1)[-1]).sender == ""


def test_client_return_path_is_dropped_and_envelope_sender_kept(agent):
    body = b"Return-Path: <forged@evil.test>\r\nSubject: rp\r\n\r\nbody\r\n"
    with agent.smtp() as client:
        client.sendmail("carol@remote.test", ["alice@example.com"], body)
    row = QueueMessage.objects.latest("created")
    raw = spool.read(row.queue_id)
    assert b"forged@evil.test" not in raw and row.sender == "carol@remote.test"


def test_an_alias_is_a_valid_recipient(agent):
    from webadmin import services

    services.create_alias("team@example.com", ["alice@example.com", "bob@example.com"])
    with agent.smtp() as client:
        client.ehlo("x.test")
        client.mail("carol@remote.test")
        assert client.rcpt("team@example.com")[0] == 250


def test_several_messages_in_one_session_get_their_own_ids(agent):
    with agent.smtp() as client:
        client.ehlo("x.test")
        for n in range(3):
            client.sendmail("carol@remote.test", ["alice@example.com", "bob@example.com"], message(f"n{n}"))
    rows = QueueMessage.objects.all()
    assert rows.count() == 3
    assert all(r.recipients.count() == 2 for r in rows)
