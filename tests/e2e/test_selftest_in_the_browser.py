"""The Health page's self-test button in Chromium, on a running appliance: every hop shown, each timed."""

from __future__ import annotations

import pytest

from tests.browser import screenshot
from tests.e2e.clients import Api
from tests.e2e.conftest import ADMIN, ADMIN_PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

DOMAIN = "aaa-selftest-browser.test"  # sorts first: the button tests the first active domain


def test_the_button_runs_every_hop_and_shows_each(appliance, admin_token, page):
    app = appliance
    Api(app, admin_token).domain_with_mailboxes(DOMAIN, "someone")
    page.goto(app.url + "/dashboard/login/")
    page.fill("#id_username", ADMIN)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_selector("#run-selftest")
    page.click("#run-selftest")
    page.wait_for_selector("#selftest-hops", timeout=90_000)
    screenshot(page, "dashboard-selftest")
    statuses = {row.get_attribute("data-hop"): row.get_attribute("data-status")
                for row in page.locator("#selftest-hops tbody tr").all()}
    assert statuses["submission"] == statuses["imap"] == statuses["webmail"] == "ok", statuses
    assert statuses["bounce"] == "skipped"  # no MAILAPP_SELFTEST_BOUNCE_TO on this appliance
    assert "not configured" in page.locator("tr[data-hop=bounce]").inner_text()
    assert " ms" in page.locator("tr[data-hop=pop3]").inner_text()
    assert page.locator("#selftest-summary").inner_text() == "passed"
