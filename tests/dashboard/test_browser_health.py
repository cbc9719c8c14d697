"""The health page in Chromium: processes, a restart button, live port checks, on a phone too."""

import datetime
import socket

import pytest
from django.utils import timezone

from agents.models import AgentProcess
from agents.tls import ensure_certificate
from tests.browser import screenshot
from tests.dashboard.browser import open_as

pytestmark = pytest.mark.browser


@pytest.fixture
def appliance(settings, superuser, tmp_path):
    now = timezone.now()
    for name in ("beat", "imap", "pop3", "smtp", "web", "worker"):
        AgentProcess.objects.create(
            name=name,
            host="mail1",
            pid=4000 + len(name),
            state="running",
            started=now - datetime.timedelta(hours=26, minutes=len(name)),
            heartbeat=now,
            restarts=0,
        )
    AgentProcess.objects.filter(name="pop3").update(state="backoff", restarts=3, last_exit="exit code 1", started=None)
    ensure_certificate(tmp_path / "cert.pem", tmp_path / "key.pem", "mail.example.net")
    settings.MAILAPP_TLS_CERT = tmp_path / "cert.pem"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        settings.MAILAPP_BIND = "127.0.0.1"
        settings.MAILAPP_IMAPS_PORT = listener.getsockname()[1]
        yield listener.getsockname()[1]


def test_the_health_page_shows_processes_ports_certificate_and_disk(live_server, page, appliance):
    open_as(page, live_server, "/dashboard/")
    row = page.locator("tr[data-process=smtp]")
    assert "running" in row.inner_text() and "1d 2h" in row.inner_text()
    assert "backoff" in page.locator("tr[data-process=pop3]").inner_text()
    assert page.get_attribute(f"li[data-port='{appliance}']", "class") == "ok"
    assert "days left" in page.locator("#cert").inner_text()
    assert "free of" in page.locator("#disk").inner_text()
    screenshot(page, "dashboard-health")


def test_the_restart_button_asks_the_supervisor_to_restart(live_server, page, appliance):
    open_as(page, live_server, "/dashboard/")
    page.click("tr[data-process=worker] a[data-restart]")
    page.wait_for_selector("#confirm-restart")
    assert not AgentProcess.objects.get(name="worker").restart_requested
    screenshot(page, "dashboard-restart-confirm")
    page.click("#confirm")
    page.wait_for_selector(".flash .success")
    assert AgentProcess.objects.get(name="worker").restart_requested
    assert "restart requested" in page.locator("tr[data-process=worker]").inner_text()


def test_the_health_page_fits_a_phone(live_server, page, appliance):
    page.set_viewport_size({"width": 390, "height": 844})
    open_as(page, live_server, "/dashboard/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    screenshot(page, "dashboard-health-phone")
