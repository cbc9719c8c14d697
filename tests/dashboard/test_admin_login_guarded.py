"""Every staff login, whatever its URL, goes through the one guarded login (issue 19.1).

The stock ``/admin/login/`` used to check passwords with no throttle and no
second factor: 30 wrong passwords were answered 200, then the right one logged
into the full admin while ``/dashboard/login/`` answered 429.
"""

from tests.dashboard.conftest import STAFF_PASSWORD
from tests.dashboard.test_totp_login import enrolled  # noqa: F401  (fixture)


def admin_login(client, password):
    return client.post("/admin/login/", {"username": "root", "password": password, "next": "/admin/"})


def dashboard_login(client, password):
    return client.post("/dashboard/login/", {"username": "root", "password": password})


def test_the_admin_login_checks_no_password_and_sends_to_the_dashboard_login(client, superuser):
    response = admin_login(client, STAFF_PASSWORD)
    assert response.status_code == 302 and response.url.startswith("/dashboard/login/")
    assert client.get("/admin/webadmin/mailbox/").status_code == 302  # not logged in


def test_guessing_is_throttled_whatever_the_url(client, superuser, settings):
    settings.MAILAPP_AUTH_MAX_FAILURES = 5
    for _ in range(30):
        admin_login(client, "wrong")  # answered with a redirect; no password is checked there
        dashboard_login(client, "wrong")
    assert dashboard_login(client, STAFF_PASSWORD).status_code == 429
    admin_login(client, STAFF_PASSWORD)
    assert client.get("/admin/webadmin/mailbox/").status_code == 302  # the full admin stays shut


def test_the_admin_is_reached_through_the_dashboard_login(client, superuser):
    response = dashboard_login(client, STAFF_PASSWORD)
    assert response.status_code == 302
    assert client.get("/admin/webadmin/mailbox/").status_code == 200


def test_the_admin_login_asks_for_the_code_where_enrolled(client, enrolled):  # noqa: F811
    page = client.get("/admin/login/?next=/admin/", follow=True)
    assert page.redirect_chain[-1][0] == "/dashboard/login/?next=/admin/"
    response = client.post("/dashboard/login/?next=/admin/", {"username": "root", "password": STAFF_PASSWORD})
    assert response.status_code == 400  # no code, no session
    response = client.post(
        "/dashboard/login/", {"username": "root", "password": STAFF_PASSWORD, "code": enrolled.now(), "next": "/admin/"}
    )
    assert response.url == "/admin/"
    assert client.get("/admin/webadmin/mailbox/").status_code == 200
