"""Hostile or malformed input to the dashboard gets a plain answer, never a server error."""

import pytest

from tests.dashboard.conftest import STAFF_PASSWORD

HOSTILE = ["\x00", "a\x00b@example.com", "<" * 5000, "' OR 1=1 --", "%", "_", "é" * 2000, "\u202e\u0000\r\n"]


@pytest.fixture
def staff(client, superuser, make_queued):
    make_queued("HSTL0000000000000001", "alice@example.com", ["x@remote.test"])
    client.login(username="root", password=STAFF_PASSWORD)
    return client


@pytest.mark.parametrize("query", HOSTILE)
def test_trace_search_answers_any_text(staff, query):
    response = staff.get("/dashboard/trace/", {"q": query})
    assert response.status_code == 200
    assert "HSTL0000000000000001" not in response.content.decode()


def test_an_empty_search_lists_the_recent_messages(staff):
    response = staff.get("/dashboard/trace/", {"q": ""})
    assert response.status_code == 200
    assert "HSTL0000000000000001" in response.content.decode()


@pytest.mark.parametrize("queue_id", ["%00", "x" * 300, "HSTL0000000000000001%00", "..", "%E2%80%AE"])
def test_odd_queue_ids_are_not_found(staff, queue_id):
    assert staff.get(f"/dashboard/trace/{queue_id}/").status_code == 404
    assert staff.post(f"/dashboard/queue/{queue_id}/action/", {"action": "hold"}).status_code == 404


@pytest.mark.parametrize("name", ["%00", "x" * 300, "example..com", "-bad-.com", "%E2%80%AE.com"])
def test_odd_domain_names_are_not_found(staff, name):
    assert staff.get(f"/dashboard/domains/{name}/").status_code == 404


def test_a_unicode_domain_name_in_the_url_finds_the_domain(staff, make_domain):
    make_domain("bücher.example")
    assert staff.get("/dashboard/domains/bücher.example/").status_code == 200
    assert staff.get("/dashboard/domains/xn--bcher-kva.example/").status_code == 200


@pytest.mark.parametrize("address", ["\x00@example.com", "a@\x00", "a@" + "x." * 200 + "com", "@", "a@b"])
def test_autoconfig_and_autodiscover_answer_odd_addresses(client, db, address):
    assert client.get("/.well-known/autoconfig/mail/config-v1.1.xml", {"emailaddress": address}).status_code == 404
    assert (
        b"<ErrorCode>603</ErrorCode>" in client.get("/autodiscover/autodiscover.xml", {"emailaddress": address}).content
    )
