"""The domain page in Chromium: records to publish and a live DNS check against a loopback DNS server."""

import pytest

from tests.browser import screenshot
from tests.dashboard.browser import open_as
from tests.dashboard.dnszones import port_settings, right_zone, wrong_zone
from tests.fakes.dns import FakeDNS

pytestmark = pytest.mark.browser


@pytest.fixture
def dns_server(settings, make_domain, make_mailbox, superuser):
    port_settings(settings)
    make_domain("example.com")
    make_domain("example.org")
    make_mailbox("alice@example.com")
    with FakeDNS({**right_zone("example.com"), **wrong_zone("example.org")}) as server:
        settings.MAILAPP_DNS_SERVER = server.address
        yield server


def verdict(page, kind):
    return page.locator(f"#dns tr[data-kind='{kind}'] .badge").inner_text()


def test_right_records_pass(live_server, page, dns_server):
    open_as(page, live_server, "/dashboard/domains/")
    page.click("tr[data-domain='example.com'] a.small-btn")
    page.wait_for_selector("#dns")
    for kind in ("MX", "SPF", "DMARC", "autoconfig", "autodiscover", "SRV imaps", "SRV submission"):
        assert verdict(page, kind) == "pass", kind
    assert verdict(page, "DKIM") == "n/a"
    assert "alice@example.com" in page.locator("#mailboxes").inner_text()
    screenshot(page, "dashboard-dns-pass")


def test_wrong_records_fail(live_server, page, dns_server):
    open_as(page, live_server, "/dashboard/domains/example.org/")
    for kind in ("MX", "SPF", "DMARC", "autoconfig", "SRV imaps"):
        assert verdict(page, kind) == "fail", kind
    assert "mx.other-provider.test" in page.locator("#dns tr[data-kind='MX']").inner_text()
    screenshot(page, "dashboard-dns-fail")
