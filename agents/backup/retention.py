"""Which backups a schedule keeps: the newest N, plus the newest of each of the last D days and W weeks.

The same rule as borg's and restic's ``--keep-last/--keep-daily/--keep-weekly``: a
backup kept by any rule stays. Days and weeks count only those that have a backup,
so a machine that was off for a week still keeps D daily backups. The newest
backup is always kept. Pure: names in, names out (a name is the backup's UTC time,
``20261202T114812.854315Z``).
"""

from __future__ import annotations

from datetime import UTC, datetime


def when(name: str) -> datetime:
    """The UTC time a backup's name records."""
    return datetime.strptime(name, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)


def keep(names: list[str], last: int = 0, daily: int = 0, weekly: int = 0) -> set[str]:
    """The backups to keep of ``names`` (any order); never empty when ``names`` is not."""
    newest_first = sorted(names, reverse=True)
    kept = set(newest_first[:last])
    for count, period in ((daily, lambda t: t.date()), (weekly, lambda t: t.isocalendar()[:2])):
        seen: list[object] = []
        for name in newest_first:
            bucket = period(when(name))
            if bucket not in seen:
                if len(seen) == count:
                    break
                seen.append(bucket)
                kept.add(name)  # the newest backup of that day (or week)
    if newest_first:
        kept.add(newest_first[0])
    return kept
