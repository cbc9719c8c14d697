"""Read-only engine state: the queue with recipients, and the supervisor's agents."""

from __future__ import annotations

from django.utils import timezone

from agents.models import AgentProcess, QueueAudit, QueueMessage, QueueRecipient


def test_queue_lists_messages_with_their_recipients(api, example_com):
    message = QueueMessage.objects.create(queue_id="0000000001BCDFGHJKLM", sender="x@elsewhere.org", size=1234)
    QueueRecipient.objects.create(message=message, address="alice@example.com", state="delivered")
    QueueRecipient.objects.create(message=message, address="bob@example.com", state="deferred", last_error="busy")
    item = api.get("/api/v1/queue/").json()["results"][0]
    assert (item["queue_id"], item["size"]) == ("0000000001BCDFGHJKLM", 1234)
    assert [(r["address"], r["state"]) for r in item["recipients"]] == [
        ("alice@example.com", "delivered"),
        ("bob@example.com", "deferred"),
    ]


def test_queue_filters_by_state_and_recipient(api, example_com):
    held = QueueMessage.objects.create(queue_id="0000000001BCDFGHJKL1", state="held")
    QueueRecipient.objects.create(message=held, address="alice@example.com")
    active = QueueMessage.objects.create(queue_id="0000000001BCDFGHJKL2")
    QueueRecipient.objects.create(message=active, address="bob@example.com")
    assert [m["queue_id"] for m in api.get("/api/v1/queue/?state=held").json()["results"]] == [held.queue_id]
    by_recipient = api.get("/api/v1/queue/?recipient=BOB@example.com").json()["results"]
    assert [m["queue_id"] for m in by_recipient] == [active.queue_id]


def test_queue_cannot_be_written_but_a_message_can_be_deleted_with_an_audit_record(api, example_com):
    QueueMessage.objects.create(queue_id="0000000001BCDFGHJKL3", sender="alice@example.com", subject="Spam run")
    assert api.post("/api/v1/queue/", {}, format="json").status_code == 405
    assert api.patch("/api/v1/queue/0000000001BCDFGHJKL3/", {"state": "done"}, format="json").status_code == 405
    assert api.delete("/api/v1/queue/0000000001BCDFGHJKL3/").status_code == 204
    assert not QueueMessage.objects.filter(queue_id="0000000001BCDFGHJKL3").exists()
    audit = QueueAudit.objects.get(queue_id="0000000001BCDFGHJKL3")
    assert (audit.action, audit.via, audit.sender, audit.subject) == ("delete", "api", "alice@example.com", "Spam run")
    assert audit.who


def test_agents_show_state_and_heartbeat(api, db):
    AgentProcess.objects.create(name="smtp", state="running", pid=4242, heartbeat=timezone.now())
    data = api.get("/api/v1/agents/smtp/").json()
    assert (data["state"], data["pid"]) == ("running", 4242)
    assert api.patch("/api/v1/agents/smtp/", {"state": "stopped"}, format="json").status_code == 405
