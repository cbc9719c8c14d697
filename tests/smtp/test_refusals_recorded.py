"""Every refusal at MAIL, RCPT or DATA becomes a row and a Postfix-style log line (agents.queue.refusals)."""

from __future__ import annotations

import asyncio
import datetime
import logging

from django.conf import settings
from django.utils import timezone

from agents.models import Refusal
from agents.queue import refusals
from tests.conftest import PASSWORD


def flushed(agent) -> list[Refusal]:
    """Store what the agent buffered (its own flusher does this every half second) and read it back."""
    asyncio.run_coroutine_threadsafe(asyncio.to_thread(agent.server.refusals.flush), agent.loop).result(10)
    return list(Refusal.objects.order_by("id"))


def test_an_unknown_recipient_is_recorded_with_the_whole_session(agent, caplog):
    caplog.set_level(logging.INFO, logger="agents.refusals")
    client = agent.raw()
    client.cmd("EHLO mx.remote.test")
    client.cmd("MAIL FROM:<carol@remote.test>")
    reply = client.cmd("RCPT TO:<nobody@example.com>")
    assert reply == "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
    [row] = flushed(agent)
    assert (row.source, row.command, row.rule) == ("smtp", "RCPT", "unknown-recipient")
    assert (row.client_address, row.client_name, row.tls, row.auth_user) == ("127.0.0.1", "mx.remote.test", "", "")
    assert (row.sender, row.recipient, row.reply) == ("carol@remote.test", "nobody@example.com", reply)
    assert (timezone.now() - row.when) < datetime.timedelta(minutes=1)
    line = next(r.getMessage() for r in caplog.records if r.name == "agents.refusals")
    assert line == (
        "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <nobody@example.com>: Recipient address "
        "rejected: User unknown; from=<carol@remote.test> to=<nobody@example.com> proto=ESMTP "
        "helo=<mx.remote.test> rule=unknown-recipient"
    )


def test_mail_and_data_refusals_are_recorded_too(smtp_agent, example_com):
    agent = smtp_agent(options={"max_message_size": 1000})
    client = agent.raw()
    client.cmd("EHLO client.test")
    assert client.cmd("MAIL FROM:<carol>").startswith("504")
    client.cmd("MAIL FROM:<carol@remote.test>")
    client.cmd("RCPT TO:<alice@example.com>")
    client.cmd("DATA")
    assert client.cmd(b"Subject: big\r\n\r\n" + b"y" * 2000 + b"\r\n.").startswith("552 5.3.4")
    rows = flushed(agent)
    assert [(r.command, r.rule) for r in rows] == [("MAIL", "address-syntax"), ("DATA", "message-size")]
    assert rows[0].sender == "carol" and rows[1].recipient == "alice@example.com"


def test_an_authenticated_refusal_names_the_user_and_tls(agent):
    with agent.smtp(agent.submission) as client:
        client.starttls(context=agent.client_context())
        client.login("alice@example.com", PASSWORD)
        code, _ = client.mail("bob@example.com")
    assert code == 553
    [row] = flushed(agent)
    assert (row.source, row.rule, row.auth_user) == ("submission", "sender-rights", "alice@example.com")
    assert row.tls.startswith("TLSv1.")


def test_refusals_expire_after_the_retention_period(db):
    now = timezone.now()
    old = Refusal.objects.create(command="RCPT", reply="550 x", rule="x", source="smtp",
                                 when=now - datetime.timedelta(days=settings.MAILAPP_REFUSAL_RETENTION_DAYS + 1))
    fresh = Refusal.objects.create(command="RCPT", reply="550 x", rule="x", source="smtp", when=now)
    assert refusals.expire(now) == 1
    assert list(Refusal.objects.values_list("pk", flat=True)) == [fresh.pk] != [old.pk]
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "agents.tasks.expire_refusals" in schedule and "agents.tasks.account_guard_sweep" in schedule

