"""DKIM without an admin action: a key for every new domain, its record on the DNS page, a button for a new one."""

import pytest

from tests.browser import screenshot
from tests.dashboard.browser import open_as
from tests.dashboard.dnszones import port_settings, right_zone
from tests.fakes.dns import FakeDNS
from webadmin import services
from webadmin.models import DkimKey

pytestmark = pytest.mark.browser


@pytest.fixture
def dns_server(settings, superuser):
    port_settings(settings)
    settings.MAILAPP_DKIM_AUTOGENERATE = True
    with FakeDNS(right_zone("example.com")) as server:
        settings.MAILAPP_DNS_SERVER = server.address
        yield server


def dkim_row(page):
    return page.locator("#dns tr[data-kind='DKIM']")


def test_a_new_domain_gets_a_key(db, settings):
    settings.MAILAPP_DKIM_AUTOGENERATE = True
    domain = services.create_domain("example.com", "admin@example.com").domain
    assert DkimKey.objects.filter(domain=domain, active=True).count() == 1


def test_the_setting_turns_it_off(db, settings):
    settings.MAILAPP_DKIM_AUTOGENERATE = False
    domain = services.create_domain("example.com", "admin@example.com").domain
    assert not DkimKey.objects.filter(domain=domain).exists()


def test_record_is_quoted_in_255_byte_strings_and_not_published_yet(live_server, page, dns_server):
    domain = services.create_domain("example.com", "admin@example.com").domain
    key = DkimKey.objects.get(domain=domain)
    open_as(page, live_server, "/dashboard/domains/example.com/")
    row = dkim_row(page)
    publish = row.locator("td[data-label='Publish']").inner_text()
    assert publish.startswith(f"{key.selector}._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p=")
    strings = publish.split(" IN TXT ", 1)[1].split('" "')
    assert len(strings) >= 2  # a 2048-bit key does not fit one string
    assert all(len(s.strip('"').encode()) <= 255 for s in strings)
    assert "".join(s.strip('"') for s in strings) == key.dns_value()
    assert row.locator(".badge").inner_text() == "fail"
    assert "not published yet" in row.inner_text()
    assert "differs" not in row.inner_text()
    screenshot(page, "dashboard-dkim-not-published")

    dns_server.zones[f"{key.selector}._domainkey.example.com"] = {"TXT": [key.dns_value()]}
    page.reload()
    assert dkim_row(page).locator(".badge").inner_text() == "pass"


def test_a_wrong_key_in_dns_differs(live_server, page, dns_server):
    domain = services.create_domain("example.com", "admin@example.com").domain
    key = DkimKey.objects.get(domain=domain)
    dns_server.zones[f"{key.selector}._domainkey.example.com"] = {"TXT": ["v=DKIM1; k=rsa; p=AAAA"]}
    open_as(page, live_server, "/dashboard/domains/example.com/")
    assert "differs" in dkim_row(page).inner_text()


def test_button_makes_the_first_key_then_a_new_one(live_server, page, dns_server, settings):
    settings.MAILAPP_DKIM_AUTOGENERATE = False
    domain = services.create_domain("example.com", "admin@example.com").domain
    open_as(page, live_server, "/dashboard/domains/example.com/")
    assert dkim_row(page).locator(".badge").inner_text() == "n/a"
    page.click("#dkim-form button")
    page.wait_for_selector(".flash")
    first = DkimKey.objects.get(domain=domain, active=True)
    assert f"{first.selector}._domainkey.example.com" in dkim_row(page).inner_text()

    page.click("#dkim-form button")
    page.wait_for_selector(".flash")
    second = DkimKey.objects.get(domain=domain, active=True)
    assert second.selector != first.selector
    assert f"{second.selector}._domainkey.example.com" in dkim_row(page).inner_text()
    assert "not published yet" in dkim_row(page).inner_text()
    screenshot(page, "dashboard-dkim-new-key")


def test_a_domain_admin_makes_keys_only_for_their_domains(client, make_domain_admin, make_domain, settings):
    from tests.dashboard.conftest import STAFF_PASSWORD

    other = make_domain("example.org")
    make_domain_admin("ann", "example.com")
    assert client.login(username="ann", password=STAFF_PASSWORD)
    assert client.post("/dashboard/domains/example.org/dkim/").status_code == 404
    assert not DkimKey.objects.filter(domain=other).exists()
    assert client.post("/dashboard/domains/example.com/dkim/").status_code == 302
    assert DkimKey.objects.filter(domain__name="example.com", active=True).count() == 1
    assert client.get("/dashboard/domains/example.com/dkim/").status_code == 405
