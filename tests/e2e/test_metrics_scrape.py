"""/metrics on a running appliance: real mail, a refused RCPT and a failed login move the counters.

The agents run as separate processes; what they count reaches the scrape through the
database (docs/metrics.md), which this story proves end to end.
"""

from __future__ import annotations

import imaplib
import smtplib

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.clients import PASSWORD, Api, every_smtp_process_accepts, message, new_message_id, wait_for_messages
from tests.e2e.conftest import client_tls, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "metrics.test"


def scrape(app) -> dict[str, dict[tuple, float]]:
    response = requests.get(app.url + "/metrics", timeout=30)
    assert response.status_code == 200, response.text
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_mail_refusals_and_logins_move_the_counters(appliance, admin_token):
    app = appliance
    Api(app, admin_token).domain_with_mailboxes(DOMAIN, "mia", "max")
    before = scrape(app)
    sender, rcpt = f"mia@{DOMAIN}", f"max@{DOMAIN}"

    # The submission below may reach any smtp process: each must know max (and mia, made before him).
    wait_for(lambda: every_smtp_process_accepts(app, rcpt), 30, "every smtp process to know max")
    msgid = new_message_id("metrics")
    with smtplib.SMTP("127.0.0.1", app.ports["SUBMISSION"], timeout=30) as client:
        client.starttls(context=client_tls())
        client.login(sender, PASSWORD)
        assert client.sendmail(sender, [rcpt], message(sender, rcpt, "Counted", msgid)) == {}
    with smtplib.SMTP("127.0.0.1", app.ports["SMTP"], timeout=30) as mx:
        mx.ehlo("remote.e2e.test")
        mx.mail("someone@remote.test")
        assert mx.rcpt(f"nobody@{DOMAIN}")[0] == 550
    imap = imaplib.IMAP4("127.0.0.1", app.ports["IMAP"], timeout=30)
    try:
        with pytest.raises(imaplib.IMAP4.error):
            imap.login(rcpt, "not the password")
    finally:
        imap.shutdown()
    wait_for_messages(app, rcpt, {msgid})

    def moved() -> dict | None:
        now = scrape(app)
        wanted = [
            ("mailapp_messages_total", {"event": "received"}),
            ("mailapp_messages_total", {"event": "delivered"}),
            ("mailapp_messages_rejected_total", {"reason": "unknown-recipient"}),
            ("mailapp_logins_total", {"protocol": "smtp", "result": "success"}),
            ("mailapp_logins_total", {"protocol": "imap", "result": "failure"}),
            ("mailapp_logins_total", {"protocol": "imap", "result": "success"}),  # wait_for_messages logs in
            ("mailapp_delivery_latency_seconds_count", {}),
        ]
        return now if all(value(now, n, **labels) > value(before, n, **labels) for n, labels in wanted) else None

    after = wait_for(moved, 30, "the counters to move")
    assert value(after, "mailapp_certificate_days_left") > 30
    running = [labels for labels in after["mailapp_agent_resident_memory_bytes"]]
    assert running, "no agent's memory was reported"
    assert all(v > 0 for v in after["mailapp_agent_resident_memory_bytes"].values())

