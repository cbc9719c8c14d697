"""Message trace in Chromium: find a message by Message-ID and follow its whole path."""

import pytest
from django.utils import timezone

from agents.models import QueueEvent, QueueRecipient
from tests.browser import screenshot
from tests.dashboard.browser import open_as

pytestmark = pytest.mark.browser


@pytest.fixture
def delivered(make_queued, superuser):
    message = make_queued(
        "TRCE0000000000000001",
        "alice@example.com",
        [],
        subject="Lunch?",
        message_id="<lunch-42@example.com>",
        source="submission",
        client_address="192.0.2.10",
        client_name="laptop.example.com",
        tls="TLSv1.3 TLS_AES_256_GCM_SHA384",
        auth_user="alice@example.com",
        size=2048,
    )
    now = timezone.now()
    QueueRecipient.objects.create(
        message=message, address="bob@example.com", state="delivered", updated=now, attempts=1
    )
    QueueRecipient.objects.create(
        message=message,
        address="carol@remote.test",
        state="bounced",
        updated=now,
        attempts=1,
        remote_host="mx.remote.test",
        remote_reply="550 5.1.1 <carol@remote.test>: Recipient address rejected",
    )
    QueueEvent.objects.create(message=message, recipient="bob@example.com", event="delivered", detail="INBOX uid 7")
    QueueEvent.objects.create(
        message=message, recipient="carol@remote.test", event="bounced", detail="mx.remote.test said 550 5.1.1"
    )
    return message


def test_find_by_message_id_and_see_session_recipients_and_history(live_server, page, delivered):
    open_as(page, live_server, "/dashboard/trace/")
    page.fill("#q", "lunch-42@example.com")
    page.click("button[type=submit]")
    page.wait_for_selector("#queue-id")
    assert page.locator("#queue-id").inner_text() == "TRCE0000000000000001"
    session = page.locator("#session").inner_text()
    assert "laptop.example.com" in session and "192.0.2.10" in session and "TLSv1.3" in session
    assert "alice@example.com" in session
    assert "delivered" in page.locator("tr[data-recipient='bob@example.com']").inner_text()
    bounced = page.locator("tr[data-recipient='carol@remote.test']").inner_text()
    assert "bounced" in bounced and "550 5.1.1" in bounced and "mx.remote.test" in bounced
    events = page.locator("#events").inner_text()
    assert events.index("received") < events.index("delivered") < events.index("bounced")
    screenshot(page, "dashboard-trace")


def test_search_by_recipient_lists_matching_messages(live_server, page, delivered, make_queued):
    make_queued("TRCE0000000000000002", "dave@remote.test", ["bob@example.com"], subject="Other")
    open_as(page, live_server, "/dashboard/trace/?q=BOB@example.com")
    text = page.locator("#results").inner_text()
    assert "TRCE0000000000000001" in text and "TRCE0000000000000002" in text
    screenshot(page, "dashboard-trace-search")


def test_a_search_without_matches_says_so(live_server, page, delivered):
    open_as(page, live_server, "/dashboard/trace/?q=nobody@nowhere.test")
    assert "No message matches" in page.locator("#no-results").inner_text()
