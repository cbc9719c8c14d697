"""Malformed, oversized and hostile input to the checks: a clear result, never a traceback or a hang."""

from __future__ import annotations

import pytest

from agents.mailauth import authresults, clamd, dkim, dmarc, inbound, message, resolver, spf

HOSTILE_MESSAGES = [
    b"",
    b"\r\n\r\n",
    b"no header at all, just text",
    b"From: \x00\xff\xfe@\x00\r\n\r\nbody",
    b"From: a@b.example, c@d.example\r\n\r\nbody",
    b"DKIM-Signature: v=1; a=rsa-sha256; d=; s=; b=!!!; bh=???\r\nFrom: a@b.example\r\n\r\nx",
    b"DKIM-Signature: garbage without tags\r\nFrom: a@b.example\r\n\r\nx",
    b"DKIM-Signature: v=1; a=rsa-sha256; d=" + b"x" * 5000 + b"; s=s; h=from; bh=AA==; b=AA==\r\nFrom: a@b\r\n\r\nx",
    b"Subject: " + b"A" * 300_000 + b"\r\n\r\n",
    b"From: a@b.example\r\n" + b"X-Long: " + b"y" * 100 + b"\r\n\t" * 10_000 + b"\r\n\r\nbody",
    b"Authentication-Results: \r\nAuthentication-Results: ;;;\r\nAuthentication-Results: (((\r\n\r\n",
]


@pytest.mark.parametrize("raw", HOSTILE_MESSAGES, ids=range(len(HOSTILE_MESSAGES)))
def test_inbound_checks_survive(dns, example_com, raw):
    verdict = inbound.check(raw, "192.0.2.10", "helo.example", "a@b.example", ["bob@example.com"])
    assert verdict.reply is None or verdict.reply[:3] in ("550", "554")
    assert b"Authentication-Results: mx.test.example;" in verdict.raw or verdict.reply


def test_a_flood_of_signatures_is_capped(dns):
    raw = b"".join(b"DKIM-Signature: v=1; a=rsa-sha256; d=x.example; s=s%d; h=from; bh=AA==; b=AA==\r\n" % i
                   for i in range(500)) + b"From: a@x.example\r\n\r\nbody\r\n"
    assert len(dkim.verify(raw)) == dkim.MAX_SIGNATURES


@pytest.mark.parametrize("helo, sender", [("", ""), ("\x00", "x@"), ("a" * 1000, "@@@"), ("[1.2.3.4]", "<>"),
                                          ("..", "a@.."), ("é.example", "é@é.example")])
def test_spf_odd_identities(dns, helo, sender):
    assert spf.check("192.0.2.1", sender, helo).result in ("none", "permerror", "neutral", "temperror")


def test_spf_hostile_records(dns):
    dns.zones["loop.example"] = {"TXT": ["v=spf1 include:loop.example -all"]}
    dns.zones["many.example"] = {"TXT": ["v=spf1 " + " ".join(f"a:h{i}.example" for i in range(40)) + " -all"]}
    dns.zones["two.example"] = {"TXT": ["v=spf1 -all", "v=spf1 +all"]}
    assert spf.check("192.0.2.1", "a@loop.example", "h").result == "permerror"
    assert spf.check("192.0.2.1", "a@many.example", "h").result == "permerror"
    assert spf.check("192.0.2.1", "a@two.example", "h").result == "permerror"


def test_spf_bad_client_address(dns):
    assert spf.check("not-an-ip", "a@b.example", "h").result == "permerror"


@pytest.mark.parametrize("text", ["", "v=DMARC1", "v=DMARC1; p=bogus", "p=reject", "v=dmarc1; p=reject",
                                  "v=DMARC1; p=reject; pct=999; adkim=q", ";;;=;=", "v=DMARC1;" + "x=y;" * 10_000])
def test_dmarc_record_parser(text):
    record = dmarc.parse_record(text)
    assert record is None or record.policy in dmarc.POLICIES


def test_dmarc_two_records_mean_none(dns):
    dns.zones["_dmarc.b.example"] = {"TXT": ["v=DMARC1; p=reject", "v=DMARC1; p=none"]}
    result = dmarc.evaluate("b.example", spf.SpfResult("fail", "b.example", "mailfrom"), [], resolver.txt)
    assert result.result == "none"


def test_dmarc_dns_failure_is_temperror(dns):
    dns.zones["_dmarc.b.example"] = "SERVFAIL"
    result = dmarc.evaluate("b.example", spf.SpfResult("none", "b.example", "mailfrom"), [], resolver.txt)
    assert result.result == "temperror"


@pytest.mark.parametrize("reply, expected", [(b"stream: OK\0", None), (b"stream: Win.Test FOUND\0", "Win.Test")])
def test_clamd_replies(reply, expected):
    assert clamd.parse_reply(reply) == expected


@pytest.mark.parametrize("reply", [b"", b"\0", b"INSTREAM size limit exceeded. ERROR\0", b"\xff" * 5000])
def test_clamd_nonsense_is_an_error(reply):
    with pytest.raises(clamd.ClamdError):
        clamd.parse_reply(reply)


def test_header_parsing_is_bounded():
    """Only the first HEADER_LIMIT bytes are parsed: a From in the first lines counts, one after them is never seen."""
    filler = b"X: y\r\n" * 200_000
    assert len(filler) > message.HEADER_LIMIT
    assert message.header_from_domain(b"From: a@b.example\r\n" + filler + b"\r\nbody") == "b.example"
    assert message.header_from_domain(filler + b"From: a@b.example\r\n\r\nbody") == ""


def test_results_header_cannot_be_injected():
    evil = ("spf", "pass", "a)\r\nX-Evil: 1 (", {"smtp.mailfrom": "a\r\nb c"})
    header = authresults.header("mx.test.example", [evil])
    assert "\r\nX-Evil" not in header and "\nX-Evil" not in header
    assert header.count("\r\n") == 1


def test_strip_forged_without_a_body_separator():
    raw = b"Authentication-Results: mx.test.example; spf=pass\r\nSubject: x"
    assert authresults.strip_forged(raw, "mx.test.example") == b"Subject: x"
