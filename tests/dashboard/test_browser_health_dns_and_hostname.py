"""Health asks the DNS resolver beside the port probes, and warns loudly about a private host name."""

import io

import pytest

from agents.management.commands.appliance import Command
from tests.browser import screenshot
from tests.dashboard.browser import open_as
from tests.fakes.dns import FakeDNS

pytestmark = pytest.mark.browser


def test_a_live_resolver_answers(live_server, page, superuser, _loopback_resolver):
    open_as(page, live_server, "/dashboard/")
    assert page.locator("#resolver .badge").inner_text() == "answers"
    assert _loopback_resolver.address in page.locator("#resolver").locator("xpath=..").inner_text()
    assert ("iana.org", "NS") in _loopback_resolver.queries
    assert "resolver" not in page.locator("body").inner_text().split("Processes")[0]


def test_a_dead_resolver_is_a_problem(live_server, page, superuser, settings):
    with FakeDNS({}) as gone:
        address = gone.address
    settings.MAILAPP_DNS_SERVER = address  # nothing answers there any more
    open_as(page, live_server, "/dashboard/")
    assert page.locator("#health-summary").inner_text() == "needs attention"
    assert f"DNS resolver {address} does not answer" in page.locator("#problems").inner_text()
    assert page.locator("#resolver .badge").inner_text() == "dead"
    screenshot(page, "dashboard-health-dead-resolver")


def test_a_resolver_failing_every_question_is_a_problem(live_server, page, superuser, settings):
    with FakeDNS({settings.MAILAPP_RESOLVER_PROBE_NAME: "SERVFAIL"}) as failing:
        settings.MAILAPP_DNS_SERVER = failing.address
        open_as(page, live_server, "/dashboard/")
        assert "SERVFAIL" in page.locator("#problems").inner_text()


@pytest.mark.parametrize("hostname", ["localhost", "debian", "192.0.2.7", "box.local", "mail.localhost"])
def test_a_private_host_name_is_a_problem_on_health(live_server, page, superuser, settings, hostname):
    settings.MAILAPP_HOSTNAME = hostname
    open_as(page, live_server, "/dashboard/")
    problems = page.locator("#problems").inner_text()
    assert "MAILAPP_HOSTNAME" in problems and "public name" in problems
    if hostname == "localhost":
        screenshot(page, "dashboard-health-private-hostname")


def test_a_public_host_name_is_no_problem(live_server, page, superuser, settings):
    settings.MAILAPP_HOSTNAME = "mail.example.net"
    open_as(page, live_server, "/dashboard/")
    assert "MAILAPP_HOSTNAME" not in page.locator("body").inner_text()


def greeting(settings, hostname: str) -> str:
    settings.MAILAPP_HOSTNAME = hostname
    out = io.StringIO()
    command = Command(stdout=out)
    command._greet([])
    return out.getvalue()


def test_the_start_up_banner_warns_about_a_private_host_name(db, settings):
    text = greeting(settings, "localhost")
    assert "WARNING: MAILAPP_HOSTNAME is localhost" in text
    assert "!" * 40 in text
    assert "WARNING" not in greeting(settings, "mail.example.net")
