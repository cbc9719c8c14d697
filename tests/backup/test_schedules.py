"""Backup schedules from the dashboard: the form (secrets write-only), beat's tick, retention, runs, "run now"."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils import timezone

from agents import tasks
from agents.backup import Repository, S3Location, S3Target, restore
from agents.models import BackupRun
from tests.dashboard.conftest import STAFF_PASSWORD, superuser  # noqa: F401  (fixture)
from webadmin.models import BackupSchedule

from .conftest import message, s3_client

PASSPHRASE = "correct horse battery staple backup"


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks queued with .delay() run in this process, as a worker would run them."""
    from mailappliance.celery import app

    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


@pytest.fixture
def admin(client, superuser, settings, tmp_path):  # noqa: F811
    settings.MAILAPP_RUN_DIR = tmp_path / "run"
    client.login(username="root", password=STAFF_PASSWORD)
    return client


def s3_form(location: S3Location, **changes: str) -> dict[str, str]:
    form = {"name": "offsite", "active": "on", "target": "s3", "s3_endpoint": location.endpoint,
            "s3_bucket": location.bucket, "s3_prefix": "nightly", "s3_region": location.region,
            "s3_access_key": location.access_key, "s3_secret_key": location.secret_key, "keying": "passphrase",
            "passphrase": PASSPHRASE, "passphrase_again": PASSPHRASE, "frequency": "daily", "weekday": "6",
            "time": "03:00", "keep_last": "2", "keep_daily": "0", "keep_weekly": "0"}
    form.update(changes)
    return form


def due_now(row: BackupSchedule) -> None:
    """Make ``row`` due now without touching the clock: made two days ago, its time of day a minute past."""
    now = timezone.localtime()
    BackupSchedule.objects.filter(pk=row.pk).update(created=now - datetime.timedelta(days=2),
                                                    time=(now - datetime.timedelta(minutes=1)).time())


def repo_of(location: S3Location, tmp_path) -> Repository:  # type: ignore[no-untyped-def]
    target = S3Target(S3Location(**{**location.__dict__, "prefix": "nightly"}), tmp_path / "run")
    return Repository.open(target, passphrase=PASSPHRASE)


def test_a_schedule_is_made_in_the_dashboard_and_its_secrets_are_never_shown_back(db, home, admin, s3_location,
                                                                                   tmp_path):
    response = admin.post("/dashboard/backups/new/", s3_form(s3_location))
    assert response.status_code == 302, response.content.decode()[:3000]

    row = BackupSchedule.objects.get(name="offsite")
    assert s3_location.secret_key not in row.s3_secret_encrypted and PASSPHRASE not in row.passphrase_encrypted
    assert "mail/appliance" not in str(s3_client(s3_location).list_objects_v2(Bucket=s3_location.bucket))
    assert repo_of(s3_location, tmp_path).manifests() == []  # saving made the archive, keyed by the passphrase
    page = admin.get(f"/dashboard/backups/{row.pk}/").content.decode()
    assert s3_location.secret_key not in page and PASSPHRASE not in page
    assert "A secret key is stored; leave empty to keep it." in page
    listing = admin.get("/dashboard/backups/").content.decode()
    assert f"s3://{s3_location.bucket}/nightly" in listing and s3_location.secret_key not in listing

    # Saved again with the secret boxes empty: the stored secrets are kept.
    kept = s3_form(s3_location, s3_secret_key="", passphrase="", passphrase_again="", keep_last="5")
    assert admin.post(f"/dashboard/backups/{row.pk}/", kept).status_code == 302
    row.refresh_from_db()
    assert row.keep_last == 5 and row.s3_secret_encrypted and row.passphrase_encrypted


def test_the_form_refuses_bad_input_with_clear_errors(db, home, admin, s3_location, tmp_path):
    bad = admin.post("/dashboard/backups/new/", s3_form(s3_location, passphrase_again="something else",
                                                        s3_bucket="Not A Bucket", keep_last="0"))
    text = bad.content.decode()
    assert bad.status_code == 400
    assert "The two passphrases differ." in text and "A bucket name" in text and "Keep at least one backup" in text
    admin.post("/dashboard/backups/new/", s3_form(s3_location))
    other = admin.post("/dashboard/backups/new/", s3_form(s3_location, name="again", passphrase="another long one!",
                                                          passphrase_again="another long one!"))
    assert other.status_code == 400 and "wrong passphrase or key file for this backup" in other.content.decode()
    gone = admin.post("/dashboard/backups/new/", s3_form(s3_location, name="nobucket", s3_bucket="no-such-bucket"))
    assert gone.status_code == 400 and "NoSuchBucket" in gone.content.decode()
    assert list(BackupSchedule.objects.values_list("name", flat=True)) == ["offsite"]


def test_the_forms_need_the_csrf_token(db, home, superuser, s3_location, settings, tmp_path):  # noqa: F811
    settings.MAILAPP_RUN_DIR = tmp_path / "run"
    strict = Client(enforce_csrf_checks=True)
    strict.login(username="root", password=STAFF_PASSWORD)
    assert strict.post("/dashboard/backups/new/", s3_form(s3_location)).status_code == 403
    row = BackupSchedule.objects.create(name="local", directory=str(tmp_path / "archive"))
    assert strict.post(f"/dashboard/backups/{row.pk}/run/").status_code == 403
    assert strict.post(f"/dashboard/backups/{row.pk}/delete/", {"confirm": "1"}).status_code == 403
    assert not BackupRun.objects.exists() and BackupSchedule.objects.filter(pk=row.pk).exists()


def test_beat_runs_a_due_schedule_once_and_retention_keeps_what_kept_backups_use(db, home, store, admin, eager,
                                                                                  s3_location, tmp_path):
    admin.post("/dashboard/backups/new/", s3_form(s3_location))
    row = BackupSchedule.objects.get(name="offsite")
    inbox = store.mailbox("alice@example.com")
    inbox.deliver(message("only in the first"), "INBOX")
    assert tasks.backup_tick() == 0  # made just now: its first slot is still ahead

    due_now(row)
    assert tasks.backup_tick() == 1
    assert tasks.backup_tick() == 1  # not the backup again (once per slot) but the first restore test
    assert tasks.backup_tick() == 0
    first = BackupRun.objects.get(kind="backup")
    assert BackupRun.objects.get(kind="restore-test").state == "ok"
    assert (first.state, first.trigger, first.kind) == ("ok", "schedule", "backup")
    assert first.size > 0 and first.written > 0 and first.files > 0 and first.duration is not None

    folder = inbox.folder("INBOX")
    folder.expunge(folder.uids(), deleted_only=False)
    for n in range(2):  # two more backups, by "run now"
        inbox.deliver(message(f"later {n}"), "INBOX")
        assert admin.post(f"/dashboard/backups/{row.pk}/run/", {"kind": "backup"}).status_code == 302

    runs = list(BackupRun.objects.filter(kind="backup").order_by("created"))
    assert [r.state for r in runs] == ["ok", "ok", "ok"] and runs[2].pruned == 1  # keep_last = 2
    repo = repo_of(s3_location, tmp_path)
    assert repo.manifests() == [runs[1].backup_name, runs[2].backup_name]
    used = {c for name in repo.manifests() for e in repo.load_manifest(name)[1]["entries"] for c in e["chunks"]}
    assert repo.chunk_ids() == used  # the first backup's own chunks went; every kept backup's stayed
    restore(repo, mailbox="alice@example.com", name=runs[1].backup_name)
    box = store.mailbox("alice@example.com").folder("INBOX")
    assert [box.read(uid) for uid in box.uids()] == [message("later 0")]

    page = admin.get("/dashboard/backups/").content.decode()
    assert page.count('data-state="ok"') == 4 and "(run now)" in page and "retention removed 1 older backup" in page


def test_a_failed_run_shows_its_error_on_the_dashboard(db, home, store, admin, eager, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the archive directory should be")
    row = BackupSchedule.objects.create(name="broken", directory=str(blocker / "archive"))
    row.set_passphrase(PASSPHRASE)
    row.save()
    store.mailbox("alice@example.com").deliver(message("x"), "INBOX")
    due_now(row)

    assert tasks.backup_tick() == 1

    run = BackupRun.objects.get()
    assert run.state == "failed" and run.note.startswith(f"{blocker}/archive") and "Not a directory" in run.note
    page = admin.get("/dashboard/backups/").content.decode()
    assert 'data-state="failed"' in page and run.note in page
    health = admin.get("/dashboard/").content.decode()  # Health names it among the problems at the top
    assert f"the last backup of schedule broken failed: {blocker}/archive" in health


def test_a_run_lost_with_its_worker_is_marked_interrupted(db, home, tmp_path):
    row = BackupSchedule.objects.create(name="local", directory=str(tmp_path / "archive"), active=False)
    BackupRun.objects.create(schedule_id=row.pk, schedule_name="local", state="running",
                             created=timezone.now() - datetime.timedelta(hours=25))
    tasks.backup_tick()
    assert BackupRun.objects.get().note.startswith("interrupted")


def test_deleting_a_schedule_asks_first_and_leaves_the_backups(db, home, store, admin, eager, tmp_path):
    row = BackupSchedule.objects.create(name="local", directory=str(tmp_path / "archive"))
    row.set_passphrase(PASSPHRASE)
    row.save()
    store.mailbox("alice@example.com").deliver(message("x"), "INBOX")
    admin.post(f"/dashboard/backups/{row.pk}/run/")
    admin.post(f"/dashboard/backups/{row.pk}/run/", {"kind": "restore-test"})  # the "Test restore" button
    test = BackupRun.objects.get(kind="restore-test")
    assert (test.state, test.trigger) == ("ok", "manual") and "1 messages restored" in test.note
    page = admin.get(f"/dashboard/backups/{row.pk}/delete/").content.decode()
    assert "The backups it made stay" in page and BackupSchedule.objects.filter(pk=row.pk).exists()
    assert admin.post(f"/dashboard/backups/{row.pk}/delete/", {"confirm": "1"}).status_code == 302
    assert not BackupSchedule.objects.exists()
    assert len(Repository.open(tmp_path / "archive", passphrase=PASSPHRASE).manifests()) == 1


def test_the_monthly_restore_test_passes_for_a_good_backup_and_health_reports_a_damaged_one(
        db, home, store, admin, eager, s3_location, tmp_path):
    from webadmin.dashboard import health

    row = BackupSchedule.objects.create(name="offsite", target="s3", s3_endpoint=s3_location.endpoint,
                                        s3_bucket=s3_location.bucket, s3_prefix="nightly",
                                        s3_region=s3_location.region, s3_access_key=s3_location.access_key)
    row.set_s3_secret(s3_location.secret_key)
    row.set_passphrase(PASSPHRASE)
    row.save()
    for n in range(3):
        store.mailbox("alice@example.com").deliver(message(f"a {n}", "z" * 3000 + "\r\n"), "INBOX")
    due_now(row)
    assert health.restore_test().state == "" and health.restore_test().enabled

    assert tasks.backup_tick() == 1  # the backup
    assert tasks.backup_tick() == 1  # then the first restore test
    test = BackupRun.objects.get(kind="restore-test")
    assert test.state == "ok" and "3 messages restored, 3 compared with the live store, all equal" in test.note
    assert health.restore_test().state == "passed"
    assert 'id="restore-test-state">passed' in admin.get("/dashboard/").content.decode()
    assert tasks.backup_tick() == 0  # the next one in 30 days

    repo = repo_of(s3_location, tmp_path)
    entry = next(e for e in repo.load_manifest()[1]["entries"] if e.get("key"))
    key = f"nightly/chunks/{entry['chunks'][0][:2]}/{entry['chunks'][0]}"
    client = s3_client(s3_location)
    blob = bytearray(client.get_object(Bucket=s3_location.bucket, Key=key)["Body"].read())
    blob[-5] ^= 0x40  # bit rot on the store's side
    client.put_object(Bucket=s3_location.bucket, Key=key, Body=bytes(blob))
    BackupRun.objects.filter(kind="restore-test").update(created=timezone.now() - datetime.timedelta(days=31))

    assert tasks.backup_tick() == 1
    failed = BackupRun.objects.filter(kind="restore-test").first()
    assert failed is not None and failed.state == "failed" and "tampered" in failed.note
    found = health.restore_test()
    assert found.state == "failed" and found.note.startswith("offsite: ")
    problems = health.Health(processes=[], ports=[], certificate=health.certificate(), disk=None,
                             restore_test=found).problems
    assert any(p.startswith("the automatic restore test failed: offsite:") and "tampered" in p for p in problems)
    page = admin.get("/dashboard/").content.decode()
    assert 'id="restore-test-state">failed' in page and "the automatic restore test failed" in page
