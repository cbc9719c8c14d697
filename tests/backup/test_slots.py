"""When a backup schedule is due: its slot, daily or on a weekday, at a time of day in the appliance's zone."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from django.test import override_settings

from agents.backup.schedule import latest_slot
from agents.config.backup import ScheduleInfo

UTC = datetime.UTC


def info(frequency: str = "daily", weekday: int = 6, hour: int = 3) -> ScheduleInfo:
    return ScheduleInfo(
        id=1, name="n", target="dir", directory="/srv/b", s3_endpoint="", s3_bucket="", s3_prefix="", s3_region="",
        s3_access_key="", s3_secret_encrypted="", keying="passphrase", passphrase_encrypted="", key_file="",
        frequency=frequency, weekday=weekday, time=datetime.time(hour, 0), keep_last=7, keep_daily=0, keep_weekly=0,
        active=True, created=datetime.datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def test_a_daily_slot_is_today_once_its_time_has_come_else_yesterday():
    assert latest_slot(info(), datetime.datetime(2026, 12, 2, 3, 0, tzinfo=UTC)) == \
        datetime.datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    assert latest_slot(info(), datetime.datetime(2026, 12, 2, 2, 59, tzinfo=UTC)) == \
        datetime.datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def test_a_weekly_slot_is_the_last_time_its_weekday_came():
    wednesday = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert latest_slot(info("weekly", weekday=6), wednesday) == datetime.datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    assert latest_slot(info("weekly", weekday=2, hour=13), wednesday) == \
        datetime.datetime(2026, 11, 25, 13, 0, tzinfo=UTC)  # today, but not yet: a week before


def test_the_time_of_day_is_in_the_appliance_time_zone():
    with override_settings(TIME_ZONE="Europe/Berlin"):
        slot = latest_slot(info(), datetime.datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    assert slot == datetime.datetime(2026, 12, 2, 3, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert slot.astimezone(UTC).hour == 2
