"""Celery tasks of the engine: deliver one queued message; sweep the queue.

``deliver`` is ``acks_late``: a worker killed mid-task leaves the task to
another (brokers that redeliver) or to the sweeper (the file-system broker
forgets a task once read). Either way the run is idempotent per (queue id,
recipient) and guarded by a claim, so two copies of one task never both deliver.
"""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="agents.tasks.deliver", acks_late=True, ignore_result=True)
def deliver(queue_id: str) -> str:
    """Take ``queue_id`` as far as it goes now (delivered, deferred or bounced per recipient)."""
    from django.conf import settings

    from agents.delivery import runner

    result = runner.run_batch(queue_id, linger=settings.MAILAPP_DELIVERY_LINGER).get(queue_id, "skipped")
    log.info("deliver %s: %s", queue_id, result)
    return result


@shared_task(name="agents.tasks.sweep_queue", ignore_result=True)
def sweep_queue(grace: float | None = None) -> int:
    """Hand every due, unclaimed message to a worker (beat runs this every 30 s).

    A message never tried yet is left to its own task for ``grace`` seconds
    (default ``runner.SWEEP_GRACE``); an operator or a test may pass 0.
    """
    import datetime

    from agents.cluster import cluster_mode
    from agents.delivery import runner
    from agents.queue import enqueue_delivery

    if cluster_mode():  # a mailbox move whose worker vanished must not keep the mailbox frozen
        from agents.cluster.move import expire_stuck

        expire_stuck()
    due = runner.due_ids() if grace is None else runner.due_ids(grace=datetime.timedelta(seconds=grace))
    pinned = runner.pinned_nodes(due)  # cluster mode: copies only their home node delivers
    due = [queue_id for queue_id in due if pinned.get(queue_id) is not False]
    for queue_id in due:
        enqueue_delivery(queue_id, node=str(pinned.get(queue_id) or ""))
    if due:
        log.info("sweep: re-enqueued %d due message(s)", len(due))
    return len(due)


@shared_task(name="agents.tasks.retire_mailbox", acks_late=True, ignore_result=True)
def retire_mailbox(address: str, mode: str) -> str:
    """Cluster mode: retire a removed mailbox on its home node (sent to ``deliver.<node>``)."""
    from agents.store import InvalidAddress
    from agents.store import retire_mailbox as retire

    try:
        return str(retire(address, "archive" if mode == "archive" else "keep"))
    except InvalidAddress:
        return ""


@shared_task(name="agents.tasks.renew_certificate", ignore_result=True)
def renew_certificate(force: bool = False) -> str:
    """ACME: a certificate when none is from the CA yet or it expires within MAILAPP_ACME_RENEW_DAYS
    (beat runs this twice a day; the dashboard's button passes ``force``). See agents.acme."""
    from agents import acme

    status = acme.renew(force=force)
    return f"{status['state']}: {status['note']}"


@shared_task(name="agents.tasks.learn_junk", ignore_result=True)
def learn_junk() -> int:
    """Teach each user's junk filter the Junk moves recorded since the last run (beat: every minute)."""
    from agents.mailauth.learn import learn_pending

    used = learn_pending()
    if used:
        log.info("junk filter: learned from %d training row(s)", used)
    return used


@shared_task(name="agents.tasks.expire_refusals", ignore_result=True)
def expire_refusals() -> int:
    """Remove refusal records past ``MAILAPP_REFUSAL_RETENTION_DAYS`` (beat runs this hourly)."""
    from agents.queue import refusals

    removed = refusals.expire()
    if removed:
        log.info("expired %d refusal record(s)", removed)
    return removed


@shared_task(name="agents.tasks.account_guard_sweep", ignore_result=True)
def account_guard_sweep() -> int:
    """Assess the accounts that sent lately (beat, every minute): remote rejects and unknown
    recipients arrive after the submission that caused them."""
    from agents.queue import accountguard

    return accountguard.sweep()


@shared_task(name="agents.tasks.scheduled_backup", ignore_result=True)
def scheduled_backup() -> str:
    """Back up into ``MAILAPP_BACKUP_DIR`` and keep the newest ``MAILAPP_BACKUP_KEEP`` (docs/backup.md)."""
    from django.conf import settings

    from agents.backup import scheduled

    result = scheduled(str(settings.MAILAPP_BACKUP_DIR), settings.MAILAPP_BACKUP_KEY_FILE,
                       settings.MAILAPP_BACKUP_PASSPHRASE, settings.MAILAPP_BACKUP_KEEP)
    return str(result["name"])


@shared_task(name="agents.tasks.restore_test", ignore_result=True)
def restore_test() -> str:
    """Restore the latest scheduled backup into scratch space and check it against the live store (Health shows it)."""
    from django.conf import settings

    from agents.backup import Repository
    from agents.backup.check import restore_test as run

    key_file = settings.MAILAPP_BACKUP_KEY_FILE
    repo = Repository.open(settings.MAILAPP_BACKUP_DIR, key_file=key_file or None,
                           passphrase=None if key_file else settings.MAILAPP_BACKUP_PASSPHRASE)
    return str(run(repo)["state"])


@shared_task(name="agents.tasks.backup_tick", ignore_result=True)
def backup_tick() -> int:
    """Queue the dashboard's backup schedules that are due, and their monthly restore tests (beat: every minute)."""
    from agents.backup import schedule

    backups, tests = schedule.tick()
    for run_id in backups + tests:
        run_backup.delay(run_id)
    if backups or tests:
        log.info("backups: queued %d backup(s) and %d restore test(s)", len(backups), len(tests))
    return len(backups) + len(tests)


@shared_task(name="agents.tasks.run_backup", ignore_result=True, acks_late=False)
def run_backup(run_id: int) -> str:
    """Carry out one queued backup run or restore test of a schedule (beat's tick or the dashboard's "run now").

    Acknowledged on receipt: a backup killed half-way is not redone blindly; the
    run is marked interrupted and the next slot (or "run now") makes a new one.
    """
    from agents.backup import schedule

    state = schedule.execute(run_id)
    log.info("backup run %s: %s", run_id, state)
    return state


@shared_task(name="agents.tasks.move_mailbox", ignore_result=True)
def move_mailbox(move_id: int) -> str:
    """Cluster mode: move a mailbox to this node (sent to the target's ``deliver.<node>``; agents.cluster.move)."""
    from agents.cluster import move

    return move.run(move_id)


@shared_task(name="agents.tasks.retire_moved_mailbox", acks_late=True, ignore_result=True)
def retire_moved_mailbox(move_id: int, folders: dict) -> str:
    """Cluster mode: after a move, the old home's copy leaves the live tree (sent to ``deliver.<source>``)."""
    from agents.cluster import move

    return move.retire(move_id, folders)
