"""The self-test button: the Health page offers it, and only a superadmin may run it."""

from tests.dashboard.conftest import STAFF_PASSWORD


def test_the_health_page_has_the_button(client, superuser):
    client.login(username="root", password=STAFF_PASSWORD)
    assert b'id="run-selftest"' in client.get("/dashboard/").content


def test_a_domain_admin_may_not_run_it(client, make_domain_admin):
    make_domain_admin("helper", "example.org")
    client.login(username="helper", password=STAFF_PASSWORD)
    response = client.post("/dashboard/selftest/")
    assert response.status_code in (302, 403)
    assert b"selftest-hops" not in response.content
