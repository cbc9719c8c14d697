"""Staff log in to the dashboard in Chromium; others are sent to the login page."""

import pytest

from tests.browser import screenshot
from tests.dashboard.browser import log_in

pytestmark = pytest.mark.browser


def test_a_visitor_is_sent_to_the_login_page(live_server, page, transactional_db):
    page.goto(f"{live_server.url}/")
    page.wait_for_selector("#id_username")
    assert "/dashboard/login/" in page.url
    screenshot(page, "dashboard-login")


def test_staff_log_in_and_land_on_the_health_page(live_server, page, superuser):
    log_in(page, live_server)
    page.wait_for_selector("#health-summary")
    assert page.url == f"{live_server.url}/dashboard/"
    assert page.locator("nav").inner_text().count("Queue") == 1
    assert page.console_errors == []


def test_a_wrong_password_shows_an_error(live_server, page, superuser):
    log_in(page, live_server, password="wrong-password")
    assert "Wrong username or password" in page.locator(".error").inner_text()
    screenshot(page, "dashboard-login-error")
