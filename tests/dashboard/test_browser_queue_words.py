"""The queue page in Chromium: addresses do not break mid-word, and a waiting message has one name
("deferred") on the queue page, the trace and the trace search alike."""

import pytest

from agents.models import QueueMessage
from tests.browser import screenshot
from tests.dashboard.browser import open_as

pytestmark = pytest.mark.browser

LONG = "someone.with.a.rather.long.name@far-away-remote-mail-host.example.test"


@pytest.fixture
def queue(make_queued, superuser):
    make_queued(
        "WORD0000000000000001",
        "newsletter-bounces+abcdef@lists.sender-domain.example.com",
        [LONG, "carol@remote.test"],
        error="451 4.7.1 <" + LONG + ">: Greylisted, try again later; " + "a long remote reply " * 12,
        subject="Words",
    )


def test_addresses_stay_on_one_line(live_server, page, queue):
    page.set_viewport_size({"width": 1280, "height": 900})
    open_as(page, live_server, "/dashboard/queue/")
    lines = page.eval_on_selector_all("#queue td.route .addr", "spans => spans.map(s => s.getClientRects().length)")
    assert lines and set(lines) == {1}, f"an address wrapped: {lines}"
    screenshot(page, "dashboard-queue-route")


def test_one_word_for_a_waiting_message_on_every_page(live_server, page, queue):
    open_as(page, live_server, "/dashboard/queue/")
    assert page.inner_text("tr[data-queue-id=WORD0000000000000001] .badge") == "deferred"
    page.click("a.qid")
    page.wait_for_selector("#queue-id")
    assert page.inner_text("h1 .badge") == "deferred"
    assert "active" not in page.inner_text("h1")


def test_the_stored_state_stays_active_and_a_fresh_message_is_queued(db):
    fresh = QueueMessage(queue_id="WORD0000000000000002", state=QueueMessage.ACTIVE)
    assert (fresh.state, fresh.state_label) == ("active", "queued")
    fresh.attempts = 1
    assert fresh.state_label == "deferred"
    assert QueueMessage(state=QueueMessage.HELD).state_label == "held"
