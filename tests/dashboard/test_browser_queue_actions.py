"""Queue actions in Chromium: hold, release, retry and delete with the page's buttons."""

import pytest

from agents.models import QueueMessage
from agents.queue import spool
from tests.browser import screenshot
from tests.dashboard.browser import open_as

pytestmark = pytest.mark.browser


@pytest.fixture
def queue(make_queued, superuser):
    spool.write("BRWS0000000000000001", b"Subject: one\r\n\r\nbody\r\n")
    make_queued(
        "BRWS0000000000000001",
        "alice@example.com",
        ["carol@remote.test", "dave@remote.test"],
        error="451 4.7.1 Greylisted, try again in 5 minutes",
        subject="Quarterly report",
    )
    make_queued(
        "BRWS0000000000000002",
        "bob@example.com",
        ["eve@remote.test"],
        state=QueueMessage.HELD,
        error="421 4.4.2 mx.remote.test: connection timed out",
    )


def row(page, queue_id):
    return page.locator(f"tr[data-queue-id={queue_id}]")


def test_hold_release_and_delete_from_the_queue_page(live_server, page, queue):
    page.on("dialog", lambda dialog: dialog.accept())
    open_as(page, live_server, "/dashboard/queue/")
    assert "Greylisted" in row(page, "BRWS0000000000000001").inner_text()
    assert "held" in row(page, "BRWS0000000000000002").inner_text()
    screenshot(page, "dashboard-queue")

    row(page, "BRWS0000000000000001").locator("button[value=hold]").click()
    page.wait_for_selector(".flash .success")
    assert QueueMessage.objects.get(pk="BRWS0000000000000001").state == QueueMessage.HELD

    row(page, "BRWS0000000000000002").locator("button[value=release]").click()
    page.wait_for_selector(".flash .success")
    assert QueueMessage.objects.get(pk="BRWS0000000000000002").state == QueueMessage.ACTIVE

    row(page, "BRWS0000000000000001").locator("button[value=delete]").click()
    page.wait_for_selector(".flash .success")
    assert not QueueMessage.objects.filter(pk="BRWS0000000000000001").exists()
    assert row(page, "BRWS0000000000000001").count() == 0
    screenshot(page, "dashboard-queue-after-actions")


def test_retry_from_the_queue_page(live_server, page, queue):
    from django.utils import timezone

    open_as(page, live_server, "/dashboard/queue/")
    row(page, "BRWS0000000000000001").locator("button[value=retry]").click()
    page.wait_for_selector(".flash .success")
    assert QueueMessage.objects.get(pk="BRWS0000000000000001").next_attempt <= timezone.now()
