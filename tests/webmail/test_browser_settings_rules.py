"""The settings page in Chromium: vacation days, forwarding back into oneself refused,
and a filter editor that speaks in labels and shows only the inputs a choice needs."""

from __future__ import annotations

import pytest

from tests.browser import screenshot
from tests.conftest import PASSWORD
from webadmin.models import Filter

pytestmark = pytest.mark.browser


@pytest.fixture
def settings_page(live_server, page, transactional_db, example_com):
    page.goto(f"{live_server.url}/mail/")
    page.fill("#address", "alice@example.com")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_selector("table.messages")
    page.goto(f"{live_server.url}/mail/settings/")
    return page


def test_vacation_with_a_first_and_last_day(settings_page):
    page = settings_page
    page.check("#vacation input[name=active]")
    page.fill("#vac-body", "Back on the 22nd.")
    page.fill("#vac-start", "2026-07-01")
    page.fill("#vac-end", "2026-07-21")
    page.click("#save-vacation")
    page.wait_for_selector("text=Vacation auto-reply saved.")
    assert page.input_value("#vac-start") == "2026-07-01" and page.input_value("#vac-end") == "2026-07-21"
    [act] = Filter.objects.get(name="Vacation auto-reply").actions
    assert (act["start"], act["end"]) == ("2026-07-01", "2026-07-21")
    screenshot(page, "webmail-vacation-days")
    page.fill("#vac-start", "2026-08-01")
    page.click("#save-vacation")
    page.wait_for_selector("text=is before the first day")


def test_forwarding_to_oneself_is_refused_with_a_reason(settings_page):
    page = settings_page
    page.check("#forwarding input[name=active]")
    page.fill("#fwd-address", "alice@example.com")
    page.click("#save-forwarding")
    page.wait_for_selector("text=mail cannot be forwarded to itself")
    screenshot(page, "webmail-forward-to-self-refused")
    assert not Filter.objects.filter(name="Forwarding").exists()


def test_the_filter_editor_speaks_in_labels(settings_page, live_server):
    page = settings_page
    page.goto(f"{live_server.url}/mail/settings/filters/new/")
    fields = page.locator("select[name=cond0_field] option").all_inner_texts()
    ops = page.locator("select[name=cond0_op] option").all_inner_texts()
    actions = page.locator("select[name=act0_action] option").all_inner_texts()
    codes = {"to_cc", "not_contains", "fileinto", "mark_read", "gt", "lt", "autoreply"}
    assert not codes & set(fields + ops + actions)
    assert "To or Cc" in fields and "does not contain" in ops and "Move to folder" in actions
    # Only what the choice needs: no header name until "Header", no reply fields until "Auto-reply".
    assert not page.is_visible("input[name=cond0_header]")
    page.select_option("select[name=cond0_field]", "header")
    assert page.is_visible("input[name=cond0_header]")
    assert not page.is_visible("textarea[name=act0_body]") and not page.is_visible("input[name=act0_arg]")
    page.select_option("select[name=act0_action]", "autoreply")
    assert page.is_visible("textarea[name=act0_body]") and page.is_visible("input[name=act0_start]")
    page.select_option("select[name=act0_action]", "flag")
    assert not page.is_visible("input[name=act0_arg]")
    screenshot(page, "webmail-filter-editor")
    # A refusal speaks in the same words.
    page.fill("#name", "Big mail")
    page.select_option("select[name=cond0_field]", "subject")
    page.select_option("select[name=cond0_op]", "gt")
    page.fill("input[name=cond0_value]", "5")
    page.click("#save-filter")
    page.wait_for_selector("text=“is larger than” (gt) and “is smaller than” (lt) only apply to size")
