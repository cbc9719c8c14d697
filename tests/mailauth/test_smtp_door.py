"""Through the real smtp agent on loopback: DMARC reject at SMTP time, Junk filing, rate limits,
greylisting, and nothing of it on the submission door."""

from __future__ import annotations

import datetime

import pytest

from agents.delivery import runner
from agents.models import GreylistTriplet
from agents.store import default_store
from tests.conftest import PASSWORD
from tests.mailauth.conftest import message
from webadmin.models import GreylistWhitelist, MailPolicy


def send(agent, raw: bytes, sender: str, rcpt: str = "bob@example.com") -> tuple[int, str]:
    """MAIL, RCPT, DATA on the MX door; the first refusal or the DATA reply."""
    with agent.smtp() as client:
        client.ehlo("mail.sender.example")
        code, text = client.mail(sender)
        if code != 250:
            return code, text.decode()
        code, text = client.rcpt(rcpt)
        if code != 250:
            return code, text.decode()
        code, text = client.data(raw)
        return code, text.decode()


@pytest.fixture
def p_reject(dns):
    dns.zones["sender.example"] = {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]}  # not loopback: SPF fails
    dns.zones["_dmarc.sender.example"] = {"TXT": ["v=DMARC1; p=reject"]}
    return dns


def test_dmarc_reject_is_refused_at_data(smtp_agent, example_com, p_reject):
    agent = smtp_agent()
    code, text = send(agent, message(), "alice@sender.example")
    assert (code, text[:5]) == (550, "5.7.1")
    assert "DMARC" in text


def counts(address: str = "bob@example.com") -> tuple[int, int]:
    """(INBOX, Junk) message counts (the Maildirs outlive each test's database)."""
    box = default_store().mailbox(address)
    return box.folder("INBOX").count(), box.folder("Junk").count()


def newest(folder: str, address: str = "bob@example.com") -> bytes:
    box = default_store().mailbox(address).folder(folder)
    return box.read(max(box.uids()))


def test_dmarc_reject_filed_into_junk_when_the_domain_says_so(smtp_agent, example_com, p_reject):
    MailPolicy.objects.create(domain=example_com, dmarc_action=MailPolicy.DMARC_JUNK)
    agent = smtp_agent()
    inbox, junk = counts()
    code, _ = send(agent, message(), "alice@sender.example")
    assert code == 250
    runner.run_due()
    assert counts() == (inbox, junk + 1)
    stored = newest("Junk")
    assert b"dmarc=fail" in stored and b"Authentication-Results: mx.test.example;" in stored


def test_clean_mail_gets_results_and_lands_in_inbox(smtp_agent, example_com, dns):
    dns.zones["sender.example"] = {"TXT": ["v=spf1 ip4:127.0.0.0/8 -all"]}
    agent = smtp_agent()
    inbox, junk = counts()
    assert send(agent, message(), "alice@sender.example")[0] == 250
    runner.run_due()
    assert counts() == (inbox + 1, junk)
    stored = newest("INBOX")
    assert b"spf=pass" in stored and b"X-Spam-Status: No" in stored


def test_spammy_mail_goes_to_junk(smtp_agent, example_com, dns):
    MailPolicy.objects.create(domain=example_com, spam_junk_score=2.0)
    agent = smtp_agent()
    raw = b"From: x@sender.example\r\nSubject: FREE MONEY FOR YOU NOW\r\n\r\nbuy\r\n"  # no Date, no Message-ID
    inbox, junk = counts()
    assert send(agent, raw, "x@sender.example")[0] == 250
    runner.run_due()
    assert counts() == (inbox, junk + 1)
    assert b"X-Spam-Status: Yes" in newest("Junk")


def test_spam_over_the_reject_score_is_refused(smtp_agent, example_com, dns):
    MailPolicy.objects.create(domain=example_com, spam_reject_score=3.0)
    agent = smtp_agent()
    raw = b"From: x@sender.example\r\nSubject: FREE MONEY FOR YOU NOW\r\n\r\nbuy\r\n"
    code, text = send(agent, raw, "x@sender.example")
    assert (code, text[:5]) == (550, "5.7.1")


def test_submission_is_not_checked(smtp_agent, example_com, p_reject):
    agent = smtp_agent()
    with agent.smtps() as client:
        client.login("alice@example.com", PASSWORD)
        refused = client.sendmail("alice@example.com", ["bob@example.com"], message(sender="alice@example.com"))
    assert refused == {}


def test_ip_over_its_rate_limit_gets_450(smtp_agent, example_com, dns, settings):
    settings.MAILAPP_RATE_IP_PER_HOUR = 2
    agent = smtp_agent()
    assert send(agent, message(), "a@sender.example")[0] == 250
    assert send(agent, message(), "a@sender.example")[0] == 250
    code, text = send(agent, message(), "a@sender.example")
    assert (code, text[:5]) == (450, "4.7.1")


def test_authenticated_sender_over_its_rate_limit_gets_450(smtp_agent, example_com, dns):
    MailPolicy.objects.create(domain=example_com, max_messages_per_hour=1)
    agent = smtp_agent()
    with agent.smtps() as client:
        client.login("alice@example.com", PASSWORD)
        assert client.mail("alice@example.com")[0] == 250
        client.rset()
        code, text = client.mail("alice@example.com")
    assert (code, text.decode()[:5]) == (450, "4.7.1")


def test_recipients_per_message_limit(smtp_agent, example_com, dns):
    MailPolicy.objects.create(domain=example_com, max_recipients_per_message=1)
    agent = smtp_agent()
    with agent.smtps() as client:
        client.login("alice@example.com", PASSWORD)
        client.mail("alice@example.com")
        assert client.rcpt("bob@example.com")[0] == 250
        code, text = client.rcpt("carol@example.net")
    assert (code, text.decode()[:5]) == (450, "4.7.1")


def test_greylisting_defers_first_attempt_and_accepts_the_retry(smtp_agent, example_com, dns):
    MailPolicy.objects.create(domain=example_com, greylisting=True)
    agent = smtp_agent()
    code, text = send(agent, message(), "alice@sender.example")
    assert (code, text[:5]) == (451, "4.7.1")
    assert send(agent, message(), "alice@sender.example")[0] == 451  # too soon
    GreylistTriplet.objects.update(first_seen=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=6))
    assert send(agent, message(), "alice@sender.example")[0] == 250
    assert send(agent, message(), "alice@sender.example")[0] == 250  # passed: no delay any more
    triplet = GreylistTriplet.objects.get()
    assert (triplet.client, triplet.sender, triplet.recipient) == ("127.0.0.0/24", "alice@sender.example",
                                                                   "bob@example.com")


def test_greylisting_whitelist_lets_a_network_through(smtp_agent, example_com, dns):
    MailPolicy.objects.create(domain=example_com, greylisting=True)
    GreylistWhitelist.objects.create(entry="127.0.0.0/8")
    agent = smtp_agent()
    assert send(agent, message(), "alice@sender.example")[0] == 250


def test_greylisting_off_by_default(smtp_agent, example_com, dns):
    agent = smtp_agent()
    assert send(agent, message(), "alice@sender.example")[0] == 250
    assert not GreylistTriplet.objects.exists()


def test_housekeeping_prunes_old_triplets_and_windows(example_com):
    from agents.mailauth import greylist, ratelimit
    from agents.models import RateCounter

    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=60)
    GreylistTriplet.objects.create(client="192.0.2.0/24", sender="a@b", recipient="c@d", first_seen=long_ago,
                                   last_seen=long_ago, passed=long_ago)
    GreylistTriplet.objects.create(client="192.0.2.0/24", sender="a@b", recipient="e@f")
    RateCounter.objects.create(key="ip:192.0.2.1", window=long_ago, count=3)
    assert greylist.prune() == 1 and ratelimit.prune() == 1
    assert GreylistTriplet.objects.get().recipient == "e@f"
