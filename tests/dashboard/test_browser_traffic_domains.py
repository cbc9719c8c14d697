"""Traffic charts and the domain list render in Chromium (screenshots for a look)."""

import datetime

import pytest
from django.utils import timezone

from agents.models import TrafficCounter
from tests.browser import screenshot
from tests.dashboard.browser import open_as

pytestmark = pytest.mark.browser


@pytest.fixture
def history(superuser):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    rows = []
    for h in range(14 * 24):
        for event, base in (
            ("received", 40),
            ("delivered", 30),
            ("relayed", 8),
            ("deferred", 3),
            ("bounced", 1),
            ("rejected", 12),
        ):
            value = base + (h * 7 + len(event) * 3) % (base // 2 + 2)
            rows.append(TrafficCounter(hour=hour - datetime.timedelta(hours=h), event=event, count=value))
    TrafficCounter.objects.bulk_create(rows)


def test_traffic_charts_draw_without_errors(live_server, page, history):
    open_as(page, live_server, "/dashboard/traffic/")
    assert page.locator("svg.chart").count() == 3
    assert page.locator("svg.chart polyline").count() == 12
    assert int(page.locator("#this-hour b[data-event=received]").inner_text()) > 0
    assert page.console_errors == []
    screenshot(page, "dashboard-traffic")


def test_domain_list_shows_mailboxes_and_storage(live_server, page, superuser, make_mailbox):
    make_mailbox("alice@example.com")
    make_mailbox("bob@example.org")
    open_as(page, live_server, "/dashboard/domains/")
    text = page.locator("tr[data-domain='example.com']").inner_text()
    assert "2" in text and "of" in text  # alice@ and the postmaster admin@
    screenshot(page, "dashboard-domains")
