"""Spam scoring (built-in rules, DNS blocklist, rspamd over HTTP) and the clamd antivirus hook."""

from __future__ import annotations

from agents.mailauth import clamd, inbound, spam
from tests.mailauth.conftest import message
from tests.mailauth.fakes import FakeClamd, FakeRspamd

FACTS = spam.Facts(ip="192.0.2.10", helo="mail.sender.example", sender="a@sender.example",
                   recipients=("bob@example.com",))


def test_a_clean_message_scores_zero():
    assert spam.rule_score(message(), FACTS, []).score == 0.0


def test_suspicious_headers_add_up():
    raw = b"From: a@sender.example\r\nSubject: WIN A PRIZE TODAY\r\nContent-Type: text/html\r\n\r\n<b>hi</b>\r\n"
    result = spam.rule_score(raw, FACTS, [])
    assert set(result.tests) == {"MISSING_DATE", "MISSING_MID", "SUBJ_ALL_CAPS", "HTML_ONLY"}
    assert result.score == 4.5


def test_failed_authentication_scores():
    facts = spam.Facts(**{**FACTS.__dict__, "spf": "fail", "dmarc": "fail"})
    assert spam.rule_score(message(), facts, []).tests == ["SPF_FAIL", "DMARC_FAIL"]


def test_dnsbl_listing_through_our_resolver(dns):
    dns.zones["10.2.0.192.zen.test"] = {"A": ["127.0.0.2"]}
    assert spam.dnsbl_hits("192.0.2.10", ["zen.test"]) == ["zen.test"]
    assert spam.dnsbl_hits("192.0.2.11", ["zen.test"]) == []
    assert "DNSBL_LISTED" in spam.rule_score(message(), FACTS, ["zen.test"]).tests
    assert ("10.2.0.192.zen.test", "A") in dns.queries


def test_rspamd_is_asked_when_configured():
    with FakeRspamd({"score": 7.5, "action": "add header", "symbols": {"BAYES_SPAM": {}, "R_DKIM_NA": {}}}) as rspamd:
        result = spam.score(message(), FACTS, rspamd_url=rspamd.url)
    assert (result.score, result.tests) == (7.5, ["BAYES_SPAM", "R_DKIM_NA"])
    headers, body = rspamd.requests[0]
    assert headers["ip"] == "192.0.2.10" and headers["from"] == "a@sender.example" and body == message()


def test_rspamd_nonsense_falls_back_to_the_rules():
    with FakeRspamd(b"<html>not json</html>") as rspamd:
        result = spam.score(message(), FACTS, rspamd_url=rspamd.url)
    assert result.score == 0.0 and result.action == ""


def test_rspamd_unreachable_falls_back_to_the_rules():
    assert spam.score(message(), FACTS, rspamd_url="http://127.0.0.1:9").score == 0.0


def test_rspamd_reject_action_refuses_at_data(dns, settings, example_com):
    with FakeRspamd({"score": 1.0, "action": "reject", "symbols": {}}) as rspamd:
        settings.MAILAPP_RSPAMD_URL = rspamd.url
        verdict = inbound.check(message(), "192.0.2.10", "h.example", "a@sender.example", ["bob@example.com"])
    assert verdict.reply and verdict.reply.startswith("550 5.7.1")


def test_clamd_finds_the_test_virus(tmp_path):
    with FakeClamd(str(tmp_path / "clamd.sock")):
        assert clamd.scan(message(extra="X-Test: EICAR-STANDARD-ANTIVIRUS-TEST-FILE\r\n"),
                          str(tmp_path / "clamd.sock")) == "Eicar-Test-Signature"
        assert clamd.scan(message() * 20_000, str(tmp_path / "clamd.sock")) is None  # many INSTREAM chunks


def test_a_virus_is_refused_at_data(dns, settings, example_com, tmp_path):
    with FakeClamd(str(tmp_path / "c.sock")):
        settings.MAILAPP_CLAMD_SOCKET = str(tmp_path / "c.sock")
        verdict = inbound.check(message(extra="X-V: EICAR-STANDARD-ANTIVIRUS-TEST-FILE\r\n"), "192.0.2.10",
                                "h.example", "a@sender.example", ["bob@example.com"])
    assert verdict.reply == "554 5.7.1 Message rejected: virus found (Eicar-Test-Signature)"


def test_clamd_missing_lets_mail_through(dns, settings, example_com, tmp_path):
    settings.MAILAPP_CLAMD_SOCKET = str(tmp_path / "nothing-here.sock")
    verdict = inbound.check(message(), "192.0.2.10", "h.example", "a@sender.example", ["bob@example.com"])
    assert verdict.reply is None
