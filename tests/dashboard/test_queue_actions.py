"""Retry, hold, release and delete change the queue rows and leave a trace event."""

import pytest

from agents.models import QueueMessage
from agents.queue import spool
from tests.dashboard.conftest import STAFF_PASSWORD


@pytest.fixture
def staff(client, superuser):
    client.login(username="root", password=STAFF_PASSWORD)
    return client


@pytest.fixture
def deferred(make_queued):
    spool.write("QQQQ0000000000000001", b"Subject: hi\r\n\r\nbody\r\n")
    return make_queued("QQQQ0000000000000001", "alice@example.com", ["x@remote.test"], error="451 4.7.1 try later")


def act(client, queue_id, action):
    return client.post(f"/dashboard/queue/{queue_id}/action/", {"action": action}, follow=True)


def test_the_queue_page_lists_deferred_mail_with_its_last_error(staff, deferred):
    page = staff.get("/dashboard/queue/").content.decode()
    assert "QQQQ0000000000000001" in page and "451 4.7.1 try later" in page


def test_hold_then_release_a_deferred_message(staff, deferred):
    act(staff, deferred.queue_id, "hold")
    deferred.refresh_from_db()
    assert deferred.state == QueueMessage.HELD
    act(staff, deferred.queue_id, "release")
    deferred.refresh_from_db()
    assert deferred.state == QueueMessage.ACTIVE
    assert [e.event for e in deferred.events.all()] == ["received", "held", "released"]


def test_retry_makes_the_next_attempt_due_now(staff, deferred):
    from django.utils import timezone

    act(staff, deferred.queue_id, "retry")
    deferred.refresh_from_db()
    assert deferred.next_attempt <= timezone.now()
    assert deferred.events.filter(event="retry", detail__contains="root").exists()


def test_delete_removes_the_message_and_its_spool_file(staff, deferred):
    response = act(staff, deferred.queue_id, "delete")
    assert "is deleted" in response.content.decode()
    assert not QueueMessage.objects.filter(pk=deferred.queue_id).exists()
    assert not spool.exists(deferred.queue_id)


def test_a_held_message_is_released_not_retried(staff, deferred):
    act(staff, deferred.queue_id, "hold")
    assert "release it" in act(staff, deferred.queue_id, "retry").content.decode()
    assert QueueMessage.objects.get(pk=deferred.pk).state == QueueMessage.HELD


def test_releasing_a_message_that_is_not_held_says_so(staff, deferred):
    page = act(staff, deferred.queue_id, "release").content.decode()
    assert "is not held" in page
    deferred.refresh_from_db()
    assert deferred.state == QueueMessage.ACTIVE


def test_an_unknown_action_changes_nothing(staff, deferred):
    page = act(staff, deferred.queue_id, "explode").content.decode()
    assert "Unknown action" in page
    assert QueueMessage.objects.get(pk=deferred.pk).state == QueueMessage.ACTIVE


def test_actions_need_post(staff, deferred):
    assert staff.get(f"/dashboard/queue/{deferred.queue_id}/action/?action=delete").status_code == 405
