"""The second factor guards the Django admin and the browsable API as well as the dashboard."""

from tests.dashboard.conftest import STAFF_PASSWORD
from tests.dashboard.test_totp_login import enrolled  # noqa: F401  (fixture)


def test_an_enrolled_admin_session_without_a_code_cannot_open_the_admin(client, enrolled):  # noqa: F811
    client.login(username="root", password=STAFF_PASSWORD)  # a session made without the code
    response = client.get("/admin/webadmin/mailbox/")
    assert response.status_code == 302 and response.url.startswith("/dashboard/login/verify/")
    assert client.get("/api/v1/domains/").status_code == 302
    client.post("/dashboard/login/verify/?next=/admin/", {"code": enrolled.now()})
    assert client.get("/admin/webadmin/mailbox/").status_code == 200


def test_the_admin_login_page_sends_to_the_one_guarded_login(client, enrolled):  # noqa: F811
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response.url == "/dashboard/login/?next=/admin/"
    assert client.get(response.url).status_code == 200
