"""A domain admin sees and acts on only their own domains' mail and domains."""

import pytest

from agents.models import QueueMessage
from tests.dashboard.conftest import STAFF_PASSWORD


@pytest.fixture
def two_domains(make_domain, make_queued):
    make_domain("example.com")
    make_domain("example.org")
    make_queued("OURS0000000000000001", "alice@example.com", ["x@remote.test"], error="451 ours")
    make_queued("OURS0000000000000002", "someone@remote.test", ["Bob@Example.COM"], error="451 inbound ours")
    make_queued("THEIRS00000000000001", "carol@example.org", ["y@remote.test"], error="451 theirs")


@pytest.fixture
def com_admin(client, make_domain_admin, two_domains):
    make_domain_admin("comadmin", "example.com")
    client.login(username="comadmin", password=STAFF_PASSWORD)
    return client


def test_the_queue_shows_only_mail_to_or_from_their_domains(com_admin):
    page = com_admin.get("/dashboard/queue/").content.decode()
    assert "OURS0000000000000001" in page and "OURS0000000000000002" in page
    assert "THEIRS00000000000001" not in page and "451 theirs" not in page


def test_another_domains_message_cannot_be_traced(com_admin):
    assert com_admin.get("/dashboard/trace/THEIRS00000000000001/").status_code == 404
    assert "THEIRS" not in com_admin.get("/dashboard/trace/?q=carol@example.org").content.decode()


def test_another_domains_message_cannot_be_acted_on(com_admin):
    response = com_admin.post("/dashboard/queue/THEIRS00000000000001/action/", {"action": "delete"})
    assert response.status_code == 404
    assert QueueMessage.objects.get(pk="THEIRS00000000000001").state == QueueMessage.ACTIVE


def test_the_domains_page_lists_only_their_domains(com_admin):
    page = com_admin.get("/dashboard/domains/").content.decode()
    assert "example.com" in page and "example.org" not in page
    assert com_admin.get("/dashboard/domains/example.org/").status_code == 404


def test_appliance_wide_pages_are_for_superusers(com_admin):
    assert com_admin.get("/dashboard/traffic/").status_code == 403
    assert com_admin.post("/dashboard/processes/smtp/restart/").status_code == 403
    assert com_admin.get("/dashboard/").url == "/dashboard/domains/"


def test_a_domain_admin_without_domains_sees_nothing(client, make_domain_admin, two_domains):
    make_domain_admin("nobody")
    client.login(username="nobody", password=STAFF_PASSWORD)
    assert "OURS" not in client.get("/dashboard/queue/").content.decode()


def test_non_staff_are_sent_to_the_login_page(client, db):
    from django.contrib.auth.models import User

    User.objects.create_user("plain", password=STAFF_PASSWORD)
    client.login(username="plain", password=STAFF_PASSWORD)
    response = client.get("/dashboard/queue/")
    assert response.status_code == 302 and response.url.startswith("/dashboard/login/?next=")
    assert client.get("/dashboard/").url.startswith("/dashboard/login/")
