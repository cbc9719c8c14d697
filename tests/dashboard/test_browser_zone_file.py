"""The DNS page's "As a zone file" box holds every record to publish, and never a host name nobody can reach."""

import pytest

from tests.browser import screenshot
from tests.dashboard.browser import open_as
from tests.dashboard.dnszones import HOST, port_settings, right_zone
from tests.fakes.dns import FakeDNS

pytestmark = pytest.mark.browser


@pytest.fixture
def dns_server(settings, make_domain, superuser):
    port_settings(settings)
    make_domain("example.com")
    with FakeDNS(right_zone("example.com")) as server:
        settings.MAILAPP_DNS_SERVER = server.address
        yield server


def zone_box(page) -> str:
    page.click("details:has(pre.zone) summary")
    return page.locator("pre.zone").inner_text()


def test_zone_box_lists_the_records(live_server, page, dns_server):
    open_as(page, live_server, "/dashboard/domains/example.com/")
    zone = zone_box(page)
    assert f"example.com. 3600 IN MX 10 {HOST}." in zone
    assert 'example.com. 3600 IN TXT "v=spf1 mx -all"' in zone
    assert "_dmarc.example.com. 3600 IN TXT" in zone
    assert f"_imaps._tcp.example.com. 3600 IN SRV 0 1 1993 {HOST}." in zone
    assert "<selector>" not in zone  # no DKIM key yet: nothing to copy
    assert not page.locator("#host-warning").count()
    screenshot(page, "dashboard-zone-file")


@pytest.mark.parametrize("hostname", ["localhost", "mailhost", "127.0.0.1", "box.local", "mail.localhost"])
def test_a_private_host_name_is_never_offered(live_server, page, dns_server, settings, hostname):
    settings.MAILAPP_HOSTNAME = hostname
    open_as(page, live_server, "/dashboard/domains/example.com/")
    assert "MAILAPP_HOSTNAME" in page.locator("#host-warning").inner_text()
    table = page.locator("#dns").inner_text()
    assert f"{hostname}." not in table
    assert "set MAILAPP_HOSTNAME to the public name first" in page.locator("#dns tr[data-kind='MX']").inner_text()
    zone = zone_box(page)
    assert hostname not in zone
    assert "_dmarc.example.com. 3600 IN TXT" in zone  # DMARC names no host: still offered
    if hostname == "localhost":
        screenshot(page, "dashboard-dns-private-hostname")
