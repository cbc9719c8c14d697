"""/metrics: who may scrape it, and what the families say about rows in the database."""

from __future__ import annotations

import datetime

from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from agents import metrics
from agents.models import AgentProcess, QueueMessage, QueueRecipient, Refusal
from agents.queue.counters import count


def scrape(client, **extra) -> dict[str, dict[tuple, float]]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_loopback_may_scrape_and_another_address_gets_403(client, db):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403


def test_a_bearer_token_opens_it_to_any_address(client, db, settings):
    settings.MAILAPP_METRICS_TOKEN = "s3cret-scrape-token"
    settings.MAILAPP_METRICS_ALLOW = ""
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7",
                      HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7",
                      HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200


def test_an_allowed_network_is_a_cidr(client, db, settings):
    settings.MAILAPP_METRICS_ALLOW = "192.0.2.0/24"
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.1").status_code == 403


def test_the_families_follow_the_rows(client, db):
    count("received", 3)
    count("bounced")
    Refusal.objects.create(source="smtp", command="RCPT", reply="550 5.1.1", rule="unknown-recipient")
    Refusal.objects.create(source="smtp", command="RCPT", reply="550 5.1.1", rule="unknown-recipient")
    metrics.login("imap", "failure")
    now = timezone.now()
    held = QueueMessage.objects.create(queue_id="q-held", state=QueueMessage.HELD,
                                       created=now - datetime.timedelta(seconds=120))
    done = QueueMessage.objects.create(queue_id="q-done", state=QueueMessage.DONE,
                                       created=now - datetime.timedelta(seconds=3))
    QueueRecipient.objects.create(message=done, address="a@x.test", state=QueueRecipient.DELIVERED, updated=now)
    del held
    AgentProcess.objects.create(name="imap", state="stopped")

    seen = scrape(client, REMOTE_ADDR="127.0.0.1")
    assert seen["mailapp_messages_total"][(("event", "received"),)] == 3
    assert seen["mailapp_messages_total"][(("event", "bounced"),)] == 1
    assert seen["mailapp_messages_rejected_total"][(("reason", "unknown-recipient"),)] == 2
    assert seen["mailapp_logins_total"][(("protocol", "imap"), ("result", "failure"))] == 1
    assert seen["mailapp_queue_depth"][(("state", "held"),)] == 1
    assert seen["mailapp_queue_oldest_message_age_seconds"][()] >= 120
    assert seen["mailapp_delivery_latency_seconds_count"][()] == 1
    assert seen["mailapp_delivery_latency_seconds_bucket"][(("le", "2.5"),)] == 0
    assert seen["mailapp_delivery_latency_seconds_bucket"][(("le", "5.0"),)] == 1
    assert seen["mailapp_agent_up"][(("agent", "imap"),)] == 0

