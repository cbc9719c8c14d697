"""The Backups page in Chromium: a schedule made in the form, "Run now", the run listed.

The form shows only the boxes that the chosen target uses.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from agents.models import BackupRun
from tests.browser import screenshot
from tests.dashboard.browser import open_as
from webadmin.models import BackupSchedule

pytestmark = pytest.mark.browser

PASSPHRASE = "a long enough passphrase for the test"


@pytest.fixture
def eager():
    from mailappliance.celery import app

    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


def test_a_schedule_is_made_run_now_and_its_run_listed(live_server, page, superuser, settings, tmp_path, eager):
    settings.MAILAPP_RUN_DIR = tmp_path / "run"
    archive = tmp_path / "archive"
    open_as(page, live_server, "/dashboard/backups/")
    page.click("#new-backup-schedule")
    # expect() waits for the new page and its script, where is_visible() answers at once.
    expect(page.locator("#row-directory")).to_be_visible()
    expect(page.locator("#row-s3_bucket")).to_be_hidden()
    expect(page.locator("#row-weekday")).to_be_hidden()
    page.select_option("#id_target", "s3")
    expect(page.locator("#row-s3_bucket")).to_be_visible()
    expect(page.locator("#row-directory")).to_be_hidden()
    page.select_option("#id_target", "dir")
    page.select_option("#id_frequency", "weekly")
    expect(page.locator("#row-weekday")).to_be_visible()
    page.fill("#id_name", "nightly")
    page.fill("#id_directory", str(archive))
    page.fill("#id_passphrase", PASSPHRASE)
    page.fill("#id_passphrase_again", PASSPHRASE)
    page.fill("#id_keep_last", "3")
    page.click("#save")
    page.wait_for_load_state()
    assert "Backup schedule nightly saved" in page.inner_text(".flash")
    assert (archive / "repo.json").exists()

    page.click("button[data-run='nightly']")
    page.wait_for_load_state()
    row = page.locator("#backup-runs tr[data-run-id]").first
    assert row.get_attribute("data-state") == "ok"
    assert "(run now)" in row.inner_text()
    screenshot(page, "dashboard-backups")
    assert BackupRun.objects.get().backup_name
    page.goto(f"{live_server.url}/dashboard/backups/{BackupSchedule.objects.get().pk}/")
    assert PASSPHRASE not in page.content() and page.input_value("#id_passphrase") == ""
