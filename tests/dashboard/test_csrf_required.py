"""Every dashboard form that changes something refuses a POST without the CSRF token."""

import pytest
from django.test import Client

from agents.models import AgentProcess, QueueMessage
from tests.dashboard.conftest import STAFF_PASSWORD


@pytest.fixture
def strict(superuser):
    client = Client(enforce_csrf_checks=True)
    client.login(username="root", password=STAFF_PASSWORD)
    return client


def test_queue_actions_need_the_csrf_token(strict, make_queued):
    make_queued("CSRF0000000000000001", "a@example.com", ["x@remote.test"])
    response = strict.post("/dashboard/queue/CSRF0000000000000001/action/", {"action": "hold"})
    assert response.status_code == 403
    assert QueueMessage.objects.get(pk="CSRF0000000000000001").state == QueueMessage.ACTIVE


def test_queue_actions_work_with_the_token_from_the_page(strict, make_queued):
    make_queued("CSRF0000000000000002", "a@example.com", ["x@remote.test"])
    strict.get("/dashboard/queue/")
    token = strict.cookies["csrftoken"].value
    response = strict.post(
        "/dashboard/queue/CSRF0000000000000002/action/", {"action": "hold", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert QueueMessage.objects.get(pk="CSRF0000000000000002").state == QueueMessage.HELD


def test_restart_needs_the_csrf_token(strict):
    AgentProcess.objects.create(name="smtp", state="running")
    assert strict.post("/dashboard/processes/smtp/restart/", {"confirm": "1"}).status_code == 403
    assert not AgentProcess.objects.get(name="smtp").restart_requested


def test_login_and_otp_forms_need_the_csrf_token(superuser):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/dashboard/login/", {"username": "root", "password": STAFF_PASSWORD}).status_code == 403
    client.login(username="root", password=STAFF_PASSWORD)
    assert client.post("/dashboard/account/otp/", {"action": "begin"}).status_code == 403
    assert client.post("/dashboard/logout/").status_code == 403
