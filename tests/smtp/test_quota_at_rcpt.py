"""A mailbox over its quota is refused at RCPT time with 452 4.2.2 (the store tells the usage)."""

from __future__ import annotations

from agents.store import default_store


def test_over_quota_mailbox_gets_452_and_others_still_pass(agent, make_mailbox):
    make_mailbox("full@example.com", quota=1000)
    default_store().mailbox("full@example.com").deliver(b"Subject: big\r\n\r\n" + b"x" * 2000 + b"\r\n")
    client = agent.raw()
    client.cmd("EHLO client.test")
    client.cmd("MAIL FROM:<carol@remote.test>")
    assert client.cmd("RCPT TO:<full@example.com>") == (
        "452 4.2.2 <full@example.com>: Recipient address rejected: Mailbox full"
    )
    assert client.cmd("RCPT TO:<alice@example.com>") == "250 2.1.5 Ok"


def test_declared_size_that_would_overflow_the_quota(agent, make_mailbox):
    make_mailbox("small@example.com", quota=10_000)
    client = agent.raw()
    client.cmd("EHLO client.test")
    client.cmd("MAIL FROM:<carol@remote.test> SIZE=20000")
    assert client.cmd("RCPT TO:<small@example.com>").startswith("452 4.2.2")


def test_a_declared_size_larger_than_the_space_left_says_so(agent, make_mailbox):
    make_mailbox("small@example.com", quota=4000)
    default_store().mailbox("small@example.com").deliver(b"Subject: old\r\n\r\n" + b"x" * 1500 + b"\r\n")
    client = agent.raw()
    client.cmd("EHLO client.test")
    client.cmd("MAIL FROM:<carol@remote.test> SIZE=9216")
    assert client.cmd("RCPT TO:<small@example.com>") == (
        "452 4.2.2 <small@example.com>: Recipient address rejected: Message of 9.0 KiB is larger than the "
        "2.4 KiB left in the mailbox (quota 3.9 KiB)"
    )
