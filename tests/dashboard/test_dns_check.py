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


def test_an_unreachable_dns_server_is_reported_not_waited_for_forever(settings, monkeypatch):
    import socket

    from webadmin.dashboard import dnscheck

    monkeypatch.setattr(dnscheck, "QUERY_TIMEOUT", 0.2)  # the timeout path, without waiting the real 2.5 s
    monkeypatch.setattr(dnscheck, "QUERY_LIFETIME", 0.2)
    port_settings(settings)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        settings.MAILAPP_DNS_SERVER = f"127.0.0.1:{silent.getsockname()[1]}"
        results = check_domain("example.com")
    checked = [r for r in results if r.expected.check is not None]
    assert checked and all(r.ok is False and "did not answer in time" in r.note for r in checked)


def test_every_record_is_asked_at_once_so_a_dead_resolver_costs_one_timeout(settings, monkeypatch):
    """A server that answers only once it holds every question at the same time.

    Queries sent one after another never get there: the first times out alone.
    (The 10 s timeout and the 30 s collection bound only limit the wait on a busy machine.)
    """
    import socket
    import threading

    import dns.message
    import dns.rcode

    from webadmin.dashboard import dnscheck

    monkeypatch.setattr(dnscheck, "QUERY_TIMEOUT", 10.0)
    monkeypatch.setattr(dnscheck, "QUERY_LIFETIME", 10.0)
    port_settings(settings)
    wanted = {r.name.lower() for r in expected_records("example.com") if r.check is not None}
    held: list[tuple[dns.message.Message, tuple]] = []

    def barrier(sock: socket.socket) -> None:
        sock.settimeout(30)
        try:
            while {q.question[0].name.to_text(omit_final_dot=True).lower() for q, _ in held} != wanted:
                wire, peer = sock.recvfrom(4096)
                held.append((dns.message.from_wire(wire), peer))
        except TimeoutError:
            return
        for query, peer in held:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(response.to_wire(), peer)

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        settings.MAILAPP_DNS_SERVER = f"127.0.0.1:{sock.getsockname()[1]}"
        thread = threading.Thread(target=barrier, args=(sock,), daemon=True)
        thread.start()
        results = check_domain("example.com")
        thread.join(timeout=30)
    checked = [r for r in results if r.expected.check is not None]
    assert {r.expected.name.lower() for r in checked} == wanted
    assert all("NXDOMAIN" in r.note for r in checked), [r.note for r in checked]


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
