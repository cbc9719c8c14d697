"""Helpers for the dashboard's Chromium tests."""

from __future__ import annotations

from tests.dashboard.conftest import STAFF_PASSWORD


def log_in(page, live_server, username: str = "root", password: str = STAFF_PASSWORD, code: str = "") -> None:
    """Log in through the dashboard's own login page, as a person would."""
    page.goto(f"{live_server.url}/dashboard/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    if code:
        page.fill("#id_code", code)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def open_as(page, live_server, path: str, username: str = "root", password: str = STAFF_PASSWORD) -> None:
    """Open ``path`` already logged in: the session is made server-side and handed to the browser.

    The login form itself is tested in test_browser_login.py; other tests skip it to stay quick.
    """
    from urllib.parse import urlsplit

    from django.test import Client

    client = Client()
    assert client.login(username=username, password=password)
    cookie = client.cookies["sessionid"]
    host = urlsplit(live_server.url).hostname
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "domain": host, "path": "/"}])
    page.goto(f"{live_server.url}{path}")
