"""Traffic: the hourly counters become this hour's numbers and the 24 h / 14 day charts."""

import datetime

from django.utils import timezone

from agents.models import TrafficCounter
from agents.queue.counters import count
from tests.dashboard.conftest import STAFF_PASSWORD
from webadmin.dashboard.traffic import traffic


def test_counts_land_in_this_hour_the_day_and_the_fortnight(db):
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    for _ in range(3):
        count("received")
    count("rejected")
    TrafficCounter.objects.create(hour=hour - datetime.timedelta(hours=5), event="delivered", count=7)
    TrafficCounter.objects.create(hour=hour - datetime.timedelta(days=3), event="bounced", count=2)
    TrafficCounter.objects.create(hour=hour - datetime.timedelta(days=30), event="bounced", count=99)  # too old
    seen = traffic(now)
    assert seen.this_hour["received"] == 3 and seen.this_hour["rejected"] == 1
    assert seen.last_24h["delivered"] == 7 and seen.last_24h["bounced"] == 0
    assert seen.last_14d["bounced"] == 2


def test_the_charts_are_drawn_as_svg_on_the_page(client, superuser):
    count("received", 12)
    client.login(username="root", password=STAFF_PASSWORD)
    page = client.get("/dashboard/traffic/").content.decode()
    assert page.count("<svg") == 3 and "<polyline" in page and "received: 12" in page


def test_an_empty_appliance_draws_flat_charts(db):
    seen = traffic()
    assert all(v == 0 for v in seen.last_14d.values())
    assert seen.fortnight_chart.lines and seen.hour_chart.bars
