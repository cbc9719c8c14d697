"""In Chromium: a refusal at RCPT is in the dashboard's trace within 2 seconds; the account guard's
banner, and its held mail released in one click."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from agents.models import AccountHold, QueueMessage
from agents.queue import accountguard, refusals
from agents.smtp.directory import ConfigDirectory
from agents.smtp.server import SmtpServer, config_from_settings
from tests.browser import screenshot
from tests.conftest import free_port
from tests.dashboard.browser import open_as
from tests.serverthread import serving
from tests.smtp.conftest import RawClient

pytestmark = pytest.mark.browser


@pytest.fixture
def mx_port(transactional_db, example_com) -> Iterator[int]:
    """The real smtp agent's MX listener on loopback, its loop in a thread of its own (Playwright
    runs a loop in this one, so the agent's loop is also shut down from its own thread)."""
    base = config_from_settings()
    port = free_port()
    listeners = [dataclasses.replace(li, port=port) for li in base.listeners if li.name == "smtp"]
    config = dataclasses.replace(base, bind="127.0.0.1", listeners=listeners, dev_mode=False)
    with serving(SmtpServer(config, None, ConfigDirectory(), reserve=0), "smtp-test-server", workers=8):
        yield port


def test_a_refusal_at_rcpt_is_found_in_the_trace_within_2_seconds(live_server, page, superuser, mx_port):
    open_as(page, live_server, "/dashboard/trace/")
    client = RawClient("127.0.0.1", mx_port)
    client.cmd("EHLO mx.remote.test")
    client.cmd("MAIL FROM:<carol@remote.test>")
    assert client.cmd("RCPT TO:<nobody@example.com>").startswith("550 5.1.1")
    refused_at = time.monotonic()
    # The 2 s the docs state (docs/smtp.md) rest on the agent's flush interval, asserted here; the wait
    # below is a bound for a loaded machine (a page load per try), and the delay is printed, not asserted:
    # a Chromium page load alone can take 2 s on a loaded 2-core CI.
    assert refusals.FLUSH_SECONDS <= 1.0
    found_after = None
    deadline = refused_at + 30
    while time.monotonic() < deadline:
        page.goto(f"{live_server.url}/dashboard/trace/?q=nobody@example.com")
        if page.locator("#refusals").count():
            found_after = time.monotonic() - refused_at
            break
        time.sleep(0.1)
    assert found_after is not None, "the refusal never reached the trace"
    print(f"refusal in the trace {found_after:.2f} s after the 550")
    row = page.locator("#refusals tbody tr").first.inner_text()
    assert "RCPT" in row and "127.0.0.1" in row and "mx.remote.test" in row and "unknown-recipient" in row
    assert "carol@remote.test" in row and "550 5.1.1" in row
    screenshot(page, "dashboard-trace-refusal")
    client.close()


def test_the_guard_banner_leads_to_a_one_click_release(live_server, page, superuser, example_com, make_queued):
    held = make_queued("GARD0000000000000001", "alice@example.com", ["x@remote.test"],
                       auth_user="alice@example.com")
    accountguard.trip("alice@example.com", accountguard.Trigger("recipients", "600 recipients in 3600 s"),
                      "203.0.113.9")
    held.refresh_from_db()
    assert held.state == "held"
    open_as(page, live_server, "/dashboard/trace/")
    banner = page.locator("#guard-banner")
    assert "alice@example.com" in banner.inner_text() and "recipients" in banner.inner_text()
    banner.locator("a").click()
    page.wait_for_selector("#guard-holds")
    screenshot(page, "dashboard-guard-holds")
    page.locator("tr[data-hold='alice@example.com'] button[value=release]").click()
    page.wait_for_load_state()
    assert page.locator("#guard-banner").count() == 0
    assert "may send again" in page.locator(".flash").inner_text()
    assert QueueMessage.objects.get(queue_id="GARD0000000000000001").state == "active"
    assert AccountHold.objects.get().outcome == "released"
    page.goto(f"{live_server.url}/dashboard/audit/")
    audit = page.locator("#audit").inner_text()
    assert "GARD0000000000000001" in audit and "release" in audit and "root" in audit
    assert page.console_errors == []
