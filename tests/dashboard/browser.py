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
