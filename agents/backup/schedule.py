"""Scheduled backups from the dashboard: which are due, running one, pruning per retention, the restore test.

Celery beat calls ``tick()`` every minute (``agents.tasks.backup_tick``). A schedule
is due once per slot (its time of day, every day or on its weekday, in the
appliance's time zone) when no scheduled run was made since that slot and none is
waiting or running. ``tick`` records a queued ``BackupRun`` for each due schedule and
the task hands it to a worker (``run_backup``), so a long backup never holds the
tick. The dashboard's "run now" queues a run the same way.

Every schedule's latest backup is restored into scratch space and checked against
the live store after its first successful backup and then every
``RESTORE_TEST_EVERY`` (the monthly automatic restore test); the outcome is a
``BackupRun`` of kind "restore-test", which Health shows.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.conf import settings
from django.utils import timezone

from agents.config import backup as config
from agents.models import BackupRun

from . import backup, retention
from .check import restore_test
from .repository import BackupError, Repository
from .targets import DirectoryTarget, S3Location, S3Target, Target

log = logging.getLogger(__name__)

RESTORE_TEST_EVERY = datetime.timedelta(days=30)
STALE_AFTER = datetime.timedelta(hours=24)  # a run queued or running this long was lost with its worker
INTERRUPTED = "interrupted: no worker finished it within 24 hours (stopped or killed?)"


def latest_slot(info: config.ScheduleInfo, now: datetime.datetime) -> datetime.datetime:
    """The most recent time at or before ``now`` this schedule was meant to run."""
    zone = timezone.get_current_timezone()
    local = timezone.localtime(now, zone)
    day = local.date()
    if info.frequency == "weekly":
        day -= datetime.timedelta(days=(local.weekday() - info.weekday) % 7)
    slot = datetime.datetime.combine(day, info.time, tzinfo=zone)
    if slot > local:
        slot -= datetime.timedelta(days=7 if info.frequency == "weekly" else 1)
    return slot


def _is_due(info: config.ScheduleInfo, now: datetime.datetime) -> bool:
    slot = latest_slot(info, now)
    if slot <= info.created:
        return False  # the first slot after the schedule was made
    runs = BackupRun.objects.filter(schedule_id=info.id, kind=BackupRun.BACKUP)
    if runs.filter(state__in=[BackupRun.QUEUED, BackupRun.RUNNING]).exists():
        return False
    return not runs.filter(trigger="schedule", created__gte=slot).exists()


def _restore_test_due(info: config.ScheduleInfo, now: datetime.datetime) -> bool:
    runs = BackupRun.objects.filter(schedule_id=info.id)
    if not runs.filter(kind=BackupRun.BACKUP, state=BackupRun.OK).exists():
        return False
    tests = runs.filter(kind=BackupRun.RESTORE_TEST)
    if tests.filter(state__in=[BackupRun.QUEUED, BackupRun.RUNNING]).exists():
        return False
    return not tests.filter(created__gt=now - RESTORE_TEST_EVERY).exists()


def tick(now: datetime.datetime | None = None) -> tuple[list[int], list[int]]:
    """Queue the backups and restore tests that are due; returns their run ids (backups, restore tests)."""
    now = now or timezone.now()
    BackupRun.objects.filter(state__in=[BackupRun.QUEUED, BackupRun.RUNNING], created__lt=now - STALE_AFTER) \
        .update(state=BackupRun.FAILED, finished=now, note=INTERRUPTED)
    backups, tests = [], []
    for info in config.active_schedules():
        if _is_due(info, now):
            backups.append(queue_run(info.id, "schedule", now=now))
        elif _restore_test_due(info, now):
            tests.append(queue_run(info.id, "schedule", kind=BackupRun.RESTORE_TEST, now=now))
    return backups, tests


def queue_run(schedule_id: int, trigger: str, kind: str = BackupRun.BACKUP,
              now: datetime.datetime | None = None) -> int:
    """Record a queued run of ``schedule_id`` (raises LookupError for no such schedule); returns its id."""
    info = config.schedule(schedule_id)
    if info is None:
        raise LookupError(f"no backup schedule {schedule_id}")
    run = BackupRun.objects.create(schedule_id=info.id, schedule_name=info.name, kind=kind, trigger=trigger,
                                   created=now or timezone.now())
    return run.pk


def open_repository(info: config.ScheduleInfo) -> Repository:
    """The schedule's archive, made on first use. Raises BackupError (unreachable, wrong key, undecryptable secret)."""
    try:
        passphrase = info.passphrase() if info.keying != "key_file" else ""
        s3_secret = info.s3_secret() if info.target == "s3" else ""
    except ValueError:
        raise BackupError("a stored secret cannot be decrypted (was SECRET_KEY changed?): "
                          "enter the passphrase and S3 secret key of the schedule again") from None
    target: Target
    try:
        if info.target == "s3":
            location = S3Location(bucket=info.s3_bucket, prefix=info.s3_prefix, endpoint=info.s3_endpoint,
                                  region=info.s3_region, access_key=info.s3_access_key, secret_key=s3_secret)
            target = S3Target(location, settings.MAILAPP_RUN_DIR)
        else:
            target = DirectoryTarget(info.directory)
        if info.keying == "key_file":
            return Repository.open(target, key_file=info.key_file, create=True)
        return Repository.open(target, passphrase=passphrase, create=True)
    except ValueError as exc:  # botocore: an endpoint URL or region it cannot use
        raise BackupError(f"{info.s3_endpoint or info.directory}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"{exc.filename or info.directory}: {exc.strerror or exc}") from None


def execute(run_id: int) -> str:
    """Carry out a queued run (a backup with its pruning, or a restore test); returns its final state.

    Every failure is recorded on the run (what the dashboard lists), never raised:
    a failed backup must not be retried blindly by the broker.
    """
    run = BackupRun.objects.filter(pk=run_id, state=BackupRun.QUEUED).first()
    if run is None:
        return "not queued"  # a second delivery of the same task
    BackupRun.objects.filter(pk=run.pk).update(state=BackupRun.RUNNING, started=timezone.now())
    fields: dict[str, Any] = {}
    try:
        info = config.schedule(run.schedule_id)
        if info is None:
            raise BackupError("the schedule was deleted")
        repo = open_repository(info)
        if run.kind == BackupRun.RESTORE_TEST:
            status = restore_test(repo, record=False)
            fields = {"state": BackupRun.OK if status["state"] == "passed" else BackupRun.FAILED,
                      "note": status["note"], "files": status["messages"]}
        else:
            result = backup(repo)
            fields = {"state": BackupRun.OK, "backup_name": result["name"], "size": result["size"],
                      "written": result["written"], "files": result["files"]}
            fields["pruned"], chunks = repo.prune_to(lambda names: retention.keep(
                names, info.keep_last, info.keep_daily, info.keep_weekly))
            if fields["pruned"]:
                fields["note"] = f"retention removed {fields['pruned']} older backup(s) and {chunks} unused chunk(s)"
    except BackupError as exc:
        fields = {"state": BackupRun.FAILED, "note": str(exc)}
    except Exception as exc:  # recorded for the dashboard; the traceback goes to the worker's log
        log.exception("backup run %s failed", run_id)
        fields = {"state": BackupRun.FAILED, "note": f"{exc.__class__.__name__}: {exc}"}
    BackupRun.objects.filter(pk=run.pk).update(finished=timezone.now(), **fields)
    return str(fields["state"])


def _latest(kind: str) -> list[BackupRun]:
    found = []
    for info in config.active_schedules():
        last = BackupRun.objects.filter(schedule_id=info.id, kind=kind,
                                        state__in=[BackupRun.OK, BackupRun.FAILED]).first()
        if last is not None:
            found.append(last)
    return found


def latest_restore_tests() -> list[BackupRun]:
    """The last finished restore test of each active schedule (what Health shows)."""
    return _latest(BackupRun.RESTORE_TEST)


def latest_backups() -> list[BackupRun]:
    """The last finished backup of each active schedule (Health names those that failed)."""
    return _latest(BackupRun.BACKUP)
