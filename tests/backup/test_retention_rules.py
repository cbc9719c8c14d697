"""The retention rule of backup schedules: keep the newest N, plus the newest of each of D days and W weeks."""

from __future__ import annotations

from agents.backup.retention import keep


def name(day: int, hour: int) -> str:
    return f"202612{day:02d}T{hour:02d}0000.000000Z"


def test_keep_last_keeps_the_newest():
    names = [name(d, 3) for d in range(1, 11)]
    assert keep(names, last=3) == {name(8, 3), name(9, 3), name(10, 3)}


def test_daily_keeps_the_newest_of_each_day_that_has_one():
    names = [name(1, 3), name(1, 15), name(2, 3), name(5, 3), name(5, 9)]  # days 3 and 4: machine off
    assert keep(names, daily=3) == {name(5, 9), name(2, 3), name(1, 15)}


def test_weekly_keeps_the_newest_of_each_week_and_rules_add_up():
    # 2026-12-01 is a Tuesday: the 1st-6th are one ISO week, the 7th-13th the next, the 14th-20th the third.
    names = [name(d, 3) for d in range(1, 21)]
    assert keep(names, weekly=2) == {name(20, 3), name(13, 3)}
    assert keep(names, last=2, weekly=3) == {name(20, 3), name(19, 3), name(13, 3), name(6, 3)}


def test_the_newest_backup_is_always_kept():
    assert keep([name(1, 3), name(2, 3)]) == {name(2, 3)}
    assert keep([]) == set()
