"""TOTP in Chromium: enrol from the account page, then log in with a code."""

import time

import pyotp
import pytest

from tests.browser import screenshot
from tests.dashboard.browser import log_in

pytestmark = pytest.mark.browser


def test_enrol_then_log_in_with_a_code(live_server, page, superuser):
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/account/otp/")
    page.click("button[type=submit]")
    page.wait_for_selector(".qr svg")
    assert page.locator("#otpauth-uri").inner_text().startswith("otpauth://totp/")
    screenshot(page, "dashboard-totp-enrol")
    totp = pyotp.TOTP(page.locator("#otp-secret").inner_text())
    page.fill("#id_code", totp.at(time.time() - 30))
    page.click("button[type=submit]")
    page.wait_for_selector("#otp-status")
    assert page.locator("#otp-status").inner_text().startswith("On")

    page.click("nav button.link")  # log out
    log_in(page, live_server)  # no code
    assert "6-digit code" in page.locator(".error").inner_text()
    log_in(page, live_server, code=totp.now())
    page.wait_for_selector("#health-summary")
