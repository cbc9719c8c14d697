"""On a phone (390 px wide) every page fits the screen: no sideways scrolling."""

import pytest

from tests.browser import screenshot
from tests.dashboard.browser import open_as

pytestmark = pytest.mark.browser


@pytest.fixture
def content(make_queued, make_mailbox, superuser):
    make_mailbox("alice@example.com")
    make_queued(
        "PHON0000000000000001",
        "alice@example.com",
        ["someone.with.a.long.name@far-away-remote.example.test"],
        error="451 4.7.1 <someone.with.a.long.name@far-away-remote.example.test>: Greylisted, try again later",
        message_id="<a-very-long-message-id-1234567890@laptop.example.com>",
        subject="Phone test",
    )


@pytest.mark.parametrize(
    "path,name",
    [
        ("/dashboard/queue/", "queue"),
        ("/dashboard/trace/PHON0000000000000001/", "trace"),
        ("/dashboard/domains/", "domains"),
        ("/dashboard/traffic/", "traffic"),
    ],
)
def test_pages_fit_a_phone_screen(live_server, page, content, path, name):
    page.set_viewport_size({"width": 390, "height": 844})
    open_as(page, live_server, path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, f"dashboard-{name}-phone")
