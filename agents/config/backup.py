"""Configuration of scheduled backups: the ``webadmin.models.BackupSchedule`` rows, read for the engine.

Read from the database each time (no cache): beat asks once a minute, and a
schedule edited or paused in the dashboard is seen by the very next tick.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings

from agents.db import fresh_connection
from mailcore import secret


@dataclass(frozen=True)
class ScheduleInfo:
    id: int
    name: str
    target: str  # "dir" | "s3"
    directory: str
    s3_endpoint: str
    s3_bucket: str
    s3_prefix: str
    s3_region: str
    s3_access_key: str
    s3_secret_encrypted: str
    keying: str  # "passphrase" | "key_file"
    passphrase_encrypted: str
    key_file: str
    frequency: str  # "daily" | "weekly"
    weekday: int  # 0 = Monday
    time: datetime.time  # in the appliance's time zone
    keep_last: int
    keep_daily: int
    keep_weekly: int
    active: bool
    created: datetime.datetime

    def passphrase(self) -> str:
        """The archive passphrase in clear (never log it). Raises ValueError when it cannot be decrypted."""
        return secret.decrypt(self.passphrase_encrypted, str(settings.SECRET_KEY))

    def s3_secret(self) -> str:
        """The S3 secret key in clear (never log it). Raises ValueError when it cannot be decrypted."""
        return secret.decrypt(self.s3_secret_encrypted, str(settings.SECRET_KEY)) if self.s3_secret_encrypted else ""


def _info(row) -> ScheduleInfo:  # type: ignore[no-untyped-def]
    return ScheduleInfo(
        id=row.pk, name=row.name, target=row.target, directory=row.directory, s3_endpoint=row.s3_endpoint,
        s3_bucket=row.s3_bucket, s3_prefix=row.s3_prefix, s3_region=row.s3_region, s3_access_key=row.s3_access_key,
        s3_secret_encrypted=row.s3_secret_encrypted, keying=row.keying, passphrase_encrypted=row.passphrase_encrypted,
        key_file=row.key_file, frequency=row.frequency, weekday=row.weekday, time=row.time, keep_last=row.keep_last,
        keep_daily=row.keep_daily, keep_weekly=row.keep_weekly, active=row.active, created=row.created,
    )  # fmt: skip


def schedule(schedule_id: int) -> ScheduleInfo | None:
    """The schedule ``schedule_id``, or None if it is gone."""
    from webadmin.models import BackupSchedule

    fresh_connection()
    row = BackupSchedule.objects.filter(pk=schedule_id).first()
    return _info(row) if row else None


def active_schedules() -> list[ScheduleInfo]:
    """Every schedule that is switched on, by name."""
    from webadmin.models import BackupSchedule

    fresh_connection()
    return [_info(row) for row in BackupSchedule.objects.filter(active=True).order_by("name")]
