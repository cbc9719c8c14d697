"""The automatic restore test: the latest backup restored into scratch space, checked against the live store."""

from __future__ import annotations

from agents import tasks
from agents.backup import Repository, backup
from tests.dashboard.conftest import STAFF_PASSWORD, superuser  # noqa: F401  (fixture)
from webadmin.dashboard import health

from .conftest import message


def scheduled(settings, tmp_path, key_file) -> Repository:  # type: ignore[no-untyped-def]
    settings.MAILAPP_BACKUP_DIR = str(tmp_path / "archive")
    settings.MAILAPP_BACKUP_KEY_FILE = str(key_file)
    settings.MAILAPP_RUN_DIR = tmp_path / "run"
    return Repository.open(tmp_path / "archive", key_file=key_file, create=True)


def test_a_good_backup_passes_and_health_shows_it(db, home, store, key_file, tmp_path, settings, client,
                                                   superuser):  # noqa: F811
    repo = scheduled(settings, tmp_path, key_file)
    for n in range(3):
        store.mailbox("alice@example.com").deliver(message(f"a {n}"), "INBOX")
    store.mailbox("bob@example.com").deliver(message("b"), "Sent")
    backup(repo)
    store.mailbox("alice@example.com").deliver(message("after"), "INBOX")  # newer mail is not a failure

    assert tasks.restore_test() == "passed"

    row = health.restore_test()
    assert row.state == "passed" and "4 messages restored, 4 compared" in row.note
    client.login(username="root", password=STAFF_PASSWORD)
    page = client.get("/dashboard/").content.decode()
    assert 'id="restore-test-state">passed' in page


def test_a_backup_that_differs_from_the_live_store_fails_on_health(db, home, store, key_file, tmp_path, settings):
    repo = scheduled(settings, tmp_path, key_file)
    store.mailbox("alice@example.com").deliver(message("a"), "INBOX")
    backup(repo)
    live = next((home / "mail" / "example.com" / "alice" / "new").iterdir(), None) or next(
        (home / "mail" / "example.com" / "alice" / "cur").iterdir())
    live.write_bytes(live.read_bytes().replace(b"Hello", b"Jello"))  # bit rot in the live store

    assert tasks.restore_test() == "failed"

    problems = health.Health(processes=[], ports=[], certificate=health.certificate(), disk=None,
                             restore_test=health.restore_test()).problems
    assert any("restore test failed" in p and "differs from the live message" in p for p in problems)
