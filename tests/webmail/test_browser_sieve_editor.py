"""The plain Sieve editor in Chromium: a syntax error shows at its line, the fix saves."""

from __future__ import annotations

import pytest

from tests.browser import screenshot
from tests.conftest import PASSWORD
from webadmin.models import SieveScript

pytestmark = pytest.mark.browser

BROKEN = 'require "fileinto";\nif header :contains "Subject" "report" {\n    fileinto "Reports"\n}\n'


def test_edit_see_the_error_at_its_line_fix_and_save(live_server, page, transactional_db, example_com):
    page.goto(f"{live_server.url}/mail/")
    page.fill("#address", "alice@example.com")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_selector("table.messages")
    page.goto(f"{live_server.url}/mail/settings/")
    page.click("#new-script")
    page.wait_for_selector("#script-text")
    page.fill("#script-name", "reports")
    page.fill("#script-text", BROKEN)
    page.click("#save-script")
    error = page.wait_for_selector("#script-error")
    assert error.inner_text().startswith("Line 4: parsing error: unexpected token '}'")
    assert page.get_attribute("#script-text", "aria-invalid") == "true"
    assert page.get_attribute("#script-text", "aria-describedby") == "script-error"
    assert page.input_value("#script-text") == BROKEN  # the text stays to be fixed
    assert not SieveScript.objects.filter(name="reports").exists()
    screenshot(page, "webmail-sieve-syntax-error")

    page.fill("#script-text", BROKEN.replace('"Reports"\n', '"Reports";\n'))
    page.click("#save-script")
    page.wait_for_selector("text=Script “reports” saved.")
    row = page.locator('#script-list tr[data-script="reports"]')
    assert row.count() == 1 and "off" in row.inner_text()
    row.get_by_role("button", name="Activate reports").click()
    page.wait_for_selector('#script-list tr[data-script="reports"] .active-script')
    saved = SieveScript.objects.get(mailbox__local_part="alice", name="reports")
    assert saved.active and 'fileinto "Reports";' in saved.script
    # Only the refused save's own 400 (a form error is a 400, as in the filter editor); no script or CSP errors.
    assert [e for e in page.console_errors if "status of 400" not in e] == []
    screenshot(page, "webmail-sieve-scripts")
