"""Health: processes with heartbeats, live port checks, certificate expiry, disk, restart."""

import datetime
import socket

import pytest
from django.utils import timezone

from agents.models import AgentProcess
from agents.tls import ensure_certificate
from tests.dashboard.conftest import STAFF_PASSWORD
from webadmin.dashboard import health


@pytest.fixture
def staff(client, superuser):
    client.login(username="root", password=STAFF_PASSWORD)
    return client


def test_a_running_process_with_a_fresh_heartbeat_is_healthy(db):
    now = timezone.now()
    AgentProcess.objects.create(name="smtp", state="running", started=now - datetime.timedelta(hours=3), heartbeat=now)
    AgentProcess.objects.create(
        name="imap", state="running", started=now, heartbeat=now - datetime.timedelta(minutes=5)
    )
    AgentProcess.objects.create(name="pop3", state="backoff", restarts=4, last_exit="exit code 1")
    rows = {p.name: p for p in health.processes(now)}
    assert rows["smtp"].ok and rows["smtp"].uptime_text == "3h 0m"
    assert not rows["imap"].ok  # stale heartbeat
    assert not rows["pop3"].ok and rows["pop3"].restarts == 4


def test_the_restart_button_asks_the_supervisor(staff):
    AgentProcess.objects.create(name="worker", state="running")
    response = staff.post("/dashboard/processes/worker/restart/", {"confirm": "1"}, follow=True)
    assert AgentProcess.objects.get(name="worker").restart_requested
    assert "Restart of worker requested" in response.content.decode()


@pytest.mark.parametrize("name", ["smtp", "web"])
def test_a_restart_is_confirmed_first(staff, name):
    """The button opens a page saying what the restart cuts; only its own button restarts."""
    AgentProcess.objects.create(name=name, state="running")
    page = staff.get(f"/dashboard/processes/{name}/restart/")
    assert page.status_code == 200
    assert f"Restart {name}?" in page.content.decode()
    assert "cut" in page.content.decode() or "stop answering" in page.content.decode()
    unconfirmed = staff.post(f"/dashboard/processes/{name}/restart/")
    assert unconfirmed.status_code == 200
    assert not AgentProcess.objects.get(name=name).restart_requested


def test_restarting_an_unknown_process_says_so(staff):
    response = staff.post("/dashboard/processes/nope/restart/", {"confirm": "1"}, follow=True)
    assert "no process called" in response.content.decode()
    assert staff.get("/dashboard/processes/nope/restart/").status_code == 404


def test_the_port_check_connects_to_the_real_listener(settings):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        open_port = listener.getsockname()[1]
        settings.MAILAPP_BIND = "127.0.0.1"
        settings.MAILAPP_IMAP_PORT = open_port
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            settings.MAILAPP_POP3_PORT = closed.getsockname()[1]  # bound, not listening: refused
            ports = {p.setting: p.listening for p in health.ports()}
    assert ports["MAILAPP_IMAP_PORT"] is True
    assert ports["MAILAPP_POP3_PORT"] is False


def test_certificate_expiry_is_read_from_the_certificate(settings, tmp_path):
    settings.MAILAPP_TLS_CERT = tmp_path / "cert.pem"
    assert health.certificate().ok is False  # missing
    ensure_certificate(tmp_path / "cert.pem", tmp_path / "key.pem", "mail.example.net")
    cert = health.certificate()
    assert cert.ok and 800 <= cert.days_left <= 825


def test_disk_space_of_the_home_is_shown(staff):
    disk = health.disk()
    assert disk is not None and disk.total > disk.free > 0
    assert "free of" in staff.get("/dashboard/").content.decode()


def test_the_landing_page_counts_waiting_mail_and_todays_traffic(staff, make_queued):
    from agents.queue.counters import count
    from webadmin.dashboard.glance import glance

    make_queued("GLNC0000000000000001", "a@example.com", ["x@remote.test"])
    make_queued("GLNC0000000000000002", "a@example.com", ["y@remote.test"], state="held")
    count("received", 5)
    seen = glance()
    assert (seen.deferred, seen.held, seen.last_24h["received"]) == (1, 1, 5)
    assert 'id="glance"' in staff.get("/dashboard/").content.decode()


def test_the_page_says_what_needs_attention(staff, settings, tmp_path):
    settings.MAILAPP_TLS_CERT = tmp_path / "missing.pem"
    AgentProcess.objects.create(name="pop3", state="backoff")
    problems = staff.get("/dashboard/").context["health"].problems
    assert "pop3: backoff" in problems and "no TLS certificate" in problems
