"""Story 5: the staff dashboard shows every process running; autoconfig names the appliance's real ports.

The superuser made with ``createsuperuser --noinput`` logs in through the
/dashboard/login/ form (CSRF cookie and all) and sees web, smtp, imap, pop3,
worker and beat "running" with a fresh heartbeat. Thunderbird's autoconfig
file for a local domain lists this appliance's host name and ports.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import requests

from tests.e2e.clients import Api, staff_session
from tests.e2e.conftest import ADMIN, ADMIN_PASSWORD, answers, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "story5.test"
PROCESSES = ("web", "smtp", "imap", "pop3", "managesieve", "worker", "beat")


def process_states(page: str) -> dict[str, str]:
    rows = re.findall(r'<tr data-process="(\w+)">.*?<span class="badge (\w+)">(\w+)', page, re.S)
    return {name: f"{state}/{badge}" for name, badge, state in rows}


def test_the_dashboard_shows_every_process_running(appliance, admin_token):
    assert requests.get(appliance.url + "/dashboard/", timeout=30, allow_redirects=False).status_code == 302
    session = staff_session(appliance, ADMIN, ADMIN_PASSWORD)
    wanted = {name: "running/ok" for name in PROCESSES}

    def all_running() -> dict[str, str] | None:
        page = session.get(appliance.url + "/dashboard/", timeout=30)
        assert page.status_code == 200
        states = process_states(page.text)
        return states if all(states.get(name) == "running/ok" for name in PROCESSES) else None

    # Right after a restart (story 3) a process may show "backoff" for a moment.
    states = wait_for(all_running, 30, f"{wanted} on the dashboard", every=1.0)
    assert set(PROCESSES) <= set(states)


def test_autoconfig_names_the_appliance_ports(appliance, admin_token):
    Api(appliance, admin_token).post("domains/", {"name": DOMAIN})
    response = requests.get(appliance.url + "/.well-known/autoconfig/mail/config-v1.1.xml",
                            params={"emailaddress": f"someone@{DOMAIN}"}, timeout=30)
    assert response.status_code == 200
    assert "xml" in response.headers["Content-Type"]
    provider = ET.fromstring(response.content).find("emailProvider")
    assert provider.find("domain").text == DOMAIN
    servers = {(s.get("type"), int(s.find("port").text), s.find("socketType").text, s.find("hostname").text)
               for s in provider.findall("incomingServer") + provider.findall("outgoingServer")}
    host, ports = "mx.e2e.test", appliance.ports
    assert servers == {
        ("imap", ports["IMAPS"], "SSL", host), ("imap", ports["IMAP"], "STARTTLS", host),
        ("pop3", ports["POP3S"], "SSL", host), ("pop3", ports["POP3"], "STARTTLS", host),
        ("smtp", ports["SMTPS"], "SSL", host), ("smtp", ports["SUBMISSION"], "STARTTLS", host),
    }
    other = requests.get(appliance.url + "/.well-known/autoconfig/mail/config-v1.1.xml",
                         params={"emailaddress": "someone@not-ours.test"}, timeout=30)
    assert other.status_code == 404


def test_the_first_start_greeting_names_working_addresses(appliance):
    """What `make run` prints is what a first-time user follows: every URL and port it names answers."""
    # The greeting comes once the ports answer and the Celery worker and beat said they are ready.
    wait_for(lambda: "mailappliance is running" in appliance.log.read_text(errors="replace"), 90, "the greeting")
    greeting = appliance.log.read_text(errors="replace")
    web = f"http://localhost:{appliance.ports['HTTP']}"
    for path in ("/dashboard/", "/admin/", "/mail/", "/api/v1/"):
        assert f"{web}{path}" in greeting, path
        assert requests.get(appliance.url + path, timeout=30).status_code in (200, 401, 403), path
    for name in ("SMTP", "SUBMISSION", "SMTPS", "IMAP", "IMAPS", "POP3", "POP3S"):
        assert str(appliance.ports[name]) in greeting, name


def test_the_restart_button_restarts_a_process(appliance, admin_token):
    """Staff press "Restart" for pop3: the supervisor replaces the process and POP3 answers again."""
    api = Api(appliance, admin_token)

    def pop3() -> dict:
        return next(a for a in api.get("agents/")["results"] if a["name"] == "pop3")

    before = wait_for(lambda: (p := pop3())["state"] == "running" and p, 30, "pop3 running")
    session = staff_session(appliance, ADMIN, ADMIN_PASSWORD)
    page = session.get(appliance.url + "/dashboard/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    pressed = session.post(appliance.url + "/dashboard/processes/pop3/restart/",
                           data={"csrfmiddlewaretoken": token, "restart": "", "confirm": "1"},
                           headers={"Referer": appliance.url + "/dashboard/"}, timeout=30, allow_redirects=False)
    assert pressed.status_code == 302
    after = wait_for(lambda: (p := pop3())["pid"] != before["pid"] and p["state"] == "running" and p,
                     30, "a new pop3 process")
    assert not after["restart_requested"]
    # Both ports, as later stories use both: the agent binds its listeners one after another.
    wait_for(lambda: answers(appliance.ports["POP3"]) and answers(appliance.ports["POP3S"]), 30,
             "POP3 and POP3S listening again")
