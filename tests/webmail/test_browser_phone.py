"""On a phone (390 × 844) the webmail fits the screen: no page scrolls sideways."""

from __future__ import annotations

import pytest

from tests.browser import screenshot
from tests.conftest import PASSWORD
from tests.webmail.conftest import message

pytestmark = pytest.mark.browser

WIDTH = 390

# The elements wider than the screen, to say what overflows when the assertion fails.
WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
  .slice(0, 8)
  .map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))"""


@pytest.fixture
def phone(live_server, page, transactional_db, example_com, alice_store):
    """Chromium at phone size, signed in as alice, with mail that has long unbroken words in it."""
    alice_store.deliver(
        message(
            subject="A rather long subject line about the quarterly-numbers-spreadsheet-final-final-v2.xlsx",
            sender="Someone With A Very Long Name <someone.with.a.long.name@far-away-remote.example.test>",
            body="See https://example.test/a/very/long/link/that/does/not/break/anywhere/at/all/1234567890\r\n",
        )
    )
    page.set_viewport_size({"width": WIDTH, "height": 844})
    page.goto(f"{live_server.url}/mail/")
    page.fill("#address", "alice@example.com")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_selector("table.messages")
    return page


def _fits(page, name: str) -> None:
    screenshot(page, f"webmail-{name}-phone")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= WIDTH, f"{name}: {width} px wide; too wide: {page.evaluate(WIDE)}"


def test_every_page_fits_a_phone(phone, live_server):
    page = phone
    _fits(page, "inbox")
    page.click("table.messages td.subject a")
    page.wait_for_selector("article.message")
    _fits(page, "message")
    page.goto(f"{live_server.url}/mail/compose/")
    _fits(page, "compose")
    page.goto(f"{live_server.url}/mail/settings/")
    _fits(page, "settings")
    page.goto(f"{live_server.url}/mail/settings/filters/new/")
    _fits(page, "filter")
    page.goto(f"{live_server.url}/mail/folders/")
    _fits(page, "folders")
    assert page.console_errors == []
