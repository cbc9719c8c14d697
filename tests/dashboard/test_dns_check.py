"""The DNS check asks a real DNS server (on loopback) and says pass/fail per record."""

import pytest

from tests.dashboard.dnszones import HOST, port_settings, right_zone, wrong_zone
from tests.fakes.dns import FakeDNS
from webadmin.dashboard.dnscheck import check_domain, expected_records

# The DKIM check reads the domain's keys from the database (agents.mailauth.keys.dns_record).
pytestmark = pytest.mark.django_db


@pytest.fixture
def dns_server(settings):
    port_settings(settings)
    zones = {**right_zone("example.com"), **wrong_zone("example.org"), "broken.test": "SERVFAIL"}
    with FakeDNS(zones) as server:
        settings.MAILAPP_DNS_SERVER = server.address
        yield server


def by_kind(results):
    return {r.expected.kind: r for r in results}


def test_a_domain_with_the_right_records_passes_every_check(dns_server):
    results = by_kind(check_domain("example.com"))
    checked = {kind: r.ok for kind, r in results.items() if r.ok is not None}
    assert checked and all(checked.values()), {k: r.note for k, r in results.items() if r.ok is False}
    assert set(checked) == {
        "MX",
        "SPF",
        "DMARC",
        "autoconfig",
        "autodiscover",
        "SRV submission",
        "SRV submissions",
        "SRV imap",
        "SRV imaps",
        "SRV pop3",
        "SRV pop3s",
    }


def test_dkim_is_shown_as_not_checked_until_signing_exists(dns_server):
    assert by_kind(check_domain("example.com"))["DKIM"].ok is None


def test_a_domain_with_wrong_records_fails_each_with_a_reason(dns_server):
    results = by_kind(check_domain("example.org"))
    assert results["MX"].ok is False and "mx.other-provider.test" in results["MX"].found[0]
    assert results["SPF"].ok is False and "more than one SPF" in results["SPF"].note
    assert results["DMARC"].ok is False and "NXDOMAIN" in results["DMARC"].note
    assert results["autoconfig"].ok is False
    assert results["SRV imaps"].ok is False and "port 1993" in results["SRV imaps"].note


def test_a_failing_dns_server_fails_the_checks_without_an_error(dns_server):
    dns_server.zones["broken.test"] = "SERVFAIL"
    results = check_domain("broken.test")
    mx = by_kind(results)["MX"]
    assert mx.ok is False and "SERVFAIL" in mx.note


def test_an_unreachable_dns_server_fails_within_the_time_limit(settings):
    import socket
    import time

    port_settings(settings)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        settings.MAILAPP_DNS_SERVER = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        results = check_domain("example.com")
    assert all(r.ok is not True for r in results)
    assert time.monotonic() - started < 10


def test_the_records_to_publish_name_this_host_and_its_ports(settings):
    port_settings(settings)
    lines = [r.zone_line for r in expected_records("example.com")]
    assert f"example.com. 3600 IN MX 10 {HOST}." in lines
    assert f"_imaps._tcp.example.com. 3600 IN SRV 0 1 1993 {HOST}." in lines
    assert f"autoconfig.example.com. 3600 IN CNAME {HOST}." in lines


def test_the_dkim_check_compares_the_published_key_with_the_signing_key(dns_server, make_domain):
    from webadmin.dkimkeys import create_key

    com = create_key(make_domain("example.com"))
    org = create_key(make_domain("example.org"))
    dns_server.zones[f"{com.selector}._domainkey.example.com"] = {"TXT": [com.dns_value()]}
    dns_server.zones[f"{org.selector}._domainkey.example.org"] = {"TXT": ["v=DKIM1; k=rsa; p=OLDKEY"]}
    assert by_kind(check_domain("example.com"))["DKIM"].ok is True
    assert by_kind(check_domain("example.org"))["DKIM"].ok is False
