"""mailq, flushqueue, queuectl and the admin's queue actions."""

import io

import pytest
from django.core.management import CommandError, call_command

from agents.models import QueueMessage
from agents.queue import spool

from .conftest import deliver_all, message, queue

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def dead_host(dns_server):
    dns_server.zones["dead.test"] = {"MX": [(10, "mx.dead.test")]}
    dns_server.zones["mx.dead.test"] = {"A": ["127.0.0.2"]}


def test_mailq_says_when_the_queue_is_empty():
    assert run("mailq").strip() == "Mail queue is empty"


def test_mailq_lists_id_size_sender_recipients_and_the_last_error(dns_server, mx):
    dead_host(dns_server)
    qid = queue(message(), "alice@remote.test", ["dave@dead.test"])
    deliver_all()
    out = run("mailq")
    assert qid in out and "<alice@remote.test>" in out and "dave@dead.test" in out
    assert "connect to mx.dead.test" in out and "1 Request." in out
    assert str(len(message())) in out


def test_flushqueue_retries_everything_now(dns_server, mx):
    dead_host(dns_server)
    qid = queue(message(), "alice@remote.test", ["dave@dead.test"])
    deliver_all()
    assert deliver_all() == {}, "not due yet"
    dns_server.zones["mx.dead.test"] = {"A": ["127.0.0.1"]}  # the host came back
    assert "1 message(s)" in run("flushqueue", "--here")
    assert QueueMessage.objects.get(queue_id=qid).state == "done"
    assert mx.recipients_count() == {"dave@dead.test": 1}


def test_queuectl_hold_release_and_delete(dns_server, mx):
    qid = queue(message(), "alice@remote.test", ["dave@remote.test"])
    assert "1 message(s) held" in run("queuectl", "hold", qid)
    assert deliver_all() == {}
    assert qid + "!" in run("mailq")
    assert "1 message(s) released" in run("queuectl", "release", qid)
    assert deliver_all() == {qid: "done"}
    other = queue(message(), "alice@remote.test", ["dave@remote.test"])
    assert "1 message(s) deleted" in run("queuectl", "delete", other)
    assert not QueueMessage.objects.filter(queue_id=other).exists() and not spool.exists(other)


def test_queuectl_names_unknown_ids():
    with pytest.raises(CommandError, match="No such queued message: NOPE"):
        run("queuectl", "hold", "NOPE")


def test_the_admin_actions_hold_release_retry_and_delete(admin_client, dns_server, mx):
    qid = queue(message(), "alice@remote.test", ["dave@remote.test"])
    url = "/admin/agents/queuemessage/"
    page = admin_client.get(url)
    assert page.status_code == 200 and qid in page.content.decode()
    assert admin_client.get(f"{url}{qid}/change/").status_code == 200
    admin_client.post(url, {"action": "hold_messages", "_selected_action": [qid]})
    assert QueueMessage.objects.get(queue_id=qid).state == "held"
    admin_client.post(url, {"action": "release_messages", "_selected_action": [qid]})
    assert QueueMessage.objects.get(queue_id=qid).state == "active"
    admin_client.post(url, {"action": "retry_now", "_selected_action": [qid]})
    assert QueueMessage.objects.get(queue_id=qid).events.filter(event="retry").exists()
    admin_client.post(url, {"action": "delete_messages", "_selected_action": [qid]})
    assert not QueueMessage.objects.filter(queue_id=qid).exists()
