"""Inbound SPF, DKIM and DMARC cases each give the right Authentication-Results (RFC 8601)."""

from __future__ import annotations

import pytest

from agents.mailauth import authresults, dkim, inbound, keys
from tests.mailauth.conftest import message
from webadmin import dkimkeys

IP = "192.0.2.10"


def results_for(raw: bytes, sender: str, ip: str = IP) -> str:
    spf, dkim_results, dmarc = inbound.authentication(raw, ip, "mail.sender.example", sender)
    return inbound.results_header(spf, dkim_results, dmarc, ip, "mail.sender.example", sender)


@pytest.mark.parametrize("record, expected", [
    ("v=spf1 ip4:192.0.2.0/24 -all", "spf=pass"),
    ("v=spf1 -all", "spf=fail"),
    ("v=spf1 ~all", "spf=softfail"),
    (None, "spf=none"),
    ("v=spf1 ip4:not-an-address -all", "spf=permerror"),
])
def test_spf_results(dns, record, expected):
    if record:
        dns.zones["sender.example"] = {"TXT": [record]}
    header = results_for(message(), "alice@sender.example")
    assert header.startswith("Authentication-Results: mx.test.example;")
    assert expected in header
    assert "smtp.mailfrom=alice@sender.example" in header


def test_spf_of_the_null_sender_checks_helo(dns):
    dns.zones["mail.sender.example"] = {"TXT": ["v=spf1 ip4:192.0.2.10 -all"]}
    assert "spf=pass" in results_for(message(), "")
    assert "smtp.helo=mail.sender.example" in results_for(message(), "")


def test_spf_temporary_dns_failure_is_temperror(dns):
    dns.zones["sender.example"] = "SERVFAIL"
    assert "spf=temperror" in results_for(message(), "alice@sender.example")


def _signed_by(make_domain, dns, domain: str, raw: bytes) -> bytes:
    """``raw`` signed with d=``domain`` (whatever its From says), the key published."""
    key = dkimkeys.create_key(make_domain(domain))
    dns.zones[f"{key.selector}._domainkey.{domain}"] = {"TXT": [key.dns_value()]}
    return dkim.sign(raw, keys.signing_keys(domain)[0])


def test_dkim_pass_fail_none(make_domain, dns):
    signed = _signed_by(make_domain, dns, "sender.example", message())
    assert "dkim=pass" in results_for(signed, "alice@sender.example")
    assert "header.d=sender.example" in results_for(signed, "alice@sender.example")
    assert "dkim=fail" in results_for(signed.replace(b"Hello there", b"Hullo there"), "alice@sender.example")
    assert "dkim=none" in results_for(message(), "alice@sender.example")


def test_dkim_key_missing_from_dns_is_permerror(make_domain, dns):
    signed = _signed_by(make_domain, dns, "sender.example", message())
    dns.zones.clear()
    assert "dkim=permerror" in results_for(signed, "alice@sender.example")


def test_dmarc_pass_by_aligned_spf(dns):
    dns.zones["sender.example"] = {"TXT": ["v=spf1 ip4:192.0.2.10 -all"]}
    dns.zones["_dmarc.sender.example"] = {"TXT": ["v=DMARC1; p=reject"]}
    header = results_for(message(), "bounce@sender.example")
    assert "dmarc=pass" in header and "header.from=sender.example" in header


def test_dmarc_pass_by_aligned_dkim_from_a_subdomain(make_domain, dns):
    signed = _signed_by(make_domain, dns, "mail.sender.example", message(sender="alice@sender.example"))
    dns.zones["_dmarc.sender.example"] = {"TXT": ["v=DMARC1; p=reject; adkim=r"]}
    assert "dmarc=pass" in results_for(signed, "x@other.example")


def test_dmarc_strict_alignment_refuses_the_subdomain(make_domain, dns):
    signed = _signed_by(make_domain, dns, "mail.sender.example", message(sender="alice@sender.example"))
    dns.zones["_dmarc.sender.example"] = {"TXT": ["v=DMARC1; p=quarantine; adkim=s"]}
    header = results_for(signed, "x@other.example")
    assert "dmarc=fail" in header and "policy.dmarc=quarantine" in header


def test_dmarc_fail_when_spf_passes_for_another_domain(dns):
    dns.zones["other.example"] = {"TXT": ["v=spf1 ip4:192.0.2.10 -all"]}
    dns.zones["_dmarc.sender.example"] = {"TXT": ["v=DMARC1; p=reject"]}
    header = results_for(message(), "x@other.example")
    assert "spf=pass" in header and "dmarc=fail" in header and "policy.dmarc=reject" in header


def test_dmarc_none_without_record(dns):
    assert "dmarc=none" in results_for(message(), "alice@sender.example")


def test_dmarc_subdomain_uses_the_organisational_record_and_sp(dns):
    dns.zones["_dmarc.sender.example"] = {"TXT": ["v=DMARC1; p=none; sp=reject"]}
    header = results_for(message(sender="a@news.sender.example"), "a@elsewhere.example")
    assert "dmarc=fail" in header and "policy.dmarc=reject" in header


def test_forged_results_with_our_id_are_stripped_others_kept(dns):
    raw = (b"Authentication-Results: mx.test.example;\r\n\tspf=pass smtp.mailfrom=x@y\r\n"
           b"Authentication-Results: other.example; dkim=pass\r\n"
           b"X-Spam-Score: -100\r\n") + message()
    verdict = inbound.check(raw, IP, "helo.example", "alice@sender.example", ["bob@example.com"])
    head = verdict.raw.split(b"\r\n\r\n")[0]
    assert head.count(b"Authentication-Results: mx.test.example;") == 1
    assert b"spf=none" in head and b"spf=pass" not in head
    assert b"Authentication-Results: other.example; dkim=pass" in head
    assert b"X-Spam-Score: -100" not in head


def test_strip_forged_keeps_the_body_and_folded_other_fields():
    raw = (b"Subject: a\r\n long\r\nAuthentication-Results: MX.TEST.EXAMPLE (forged)\r\n"
           b" ; dmarc=pass\r\n\r\nAuthentication-Results: mx.test.example; body line\r\n")
    assert authresults.strip_forged(raw, "mx.test.example") == (
        b"Subject: a\r\n long\r\n\r\nAuthentication-Results: mx.test.example; body line\r\n")
