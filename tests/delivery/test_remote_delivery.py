"""Remote delivery to MX hosts on loopback, found through a DNS server on loopback."""

import pytest

from agents.models import QueueEvent, QueueMessage, QueueRecipient, TrafficCounter
from agents.queue import spool
from tests.fakes.smtp import FakeSMTP

from .conftest import deliver_all, make_due, message, queue

pytestmark = pytest.mark.django_db


def test_remote_mail_is_relayed_once_to_the_mx(mx):
    qid = queue(message(to="dave@remote.test"), "alice@example.com", ["dave@remote.test", "erin@remote.test"])
    assert deliver_all() == {qid: "done"}
    assert len(mx.messages) == 1, "one connection carries both recipients"
    assert sorted(mx.messages[0].rcpt_tos) == ["dave@remote.test", "erin@remote.test"]
    rcpt = QueueRecipient.objects.get(message_id=qid, address="dave@remote.test")
    assert rcpt.state == "delivered" and rcpt.remote_host == "mx1.remote.test" and rcpt.remote_reply.startswith("250")
    assert QueueEvent.objects.filter(message_id=qid, event="relayed").count() == 2
    assert TrafficCounter.objects.get(event="relayed").count == 2
    assert not spool.exists(qid)


def test_a_4xx_then_2xx_remote_is_delivered_once(mx):
    mx.set_replies("dave@remote.test", ["451 4.7.1 greylisted, try later", "250 OK"])
    qid = queue(message(), "alice@example.com", ["dave@remote.test"])
    assert deliver_all() == {qid: "deferred 1"}
    rcpt = QueueRecipient.objects.get(message_id=qid)
    assert rcpt.state == "deferred" and "greylisted" in rcpt.last_error
    make_due(qid)
    assert deliver_all() == {qid: "done"}
    assert mx.recipients_count() == {"dave@remote.test": 1}


def test_a_5xx_recipient_bounces_and_the_others_are_delivered(mx):
    mx.set_replies("nobody@remote.test", ["550 5.1.1 no such user here"])
    qid = queue(message(), "alice@example.com", ["nobody@remote.test", "dave@remote.test"])
    deliver_all()
    states = dict(QueueRecipient.objects.filter(message_id=qid).values_list("address", "state"))
    assert states == {"nobody@remote.test": "bounced", "dave@remote.test": "delivered"}
    assert mx.recipients_count() == {"dave@remote.test": 1}
    bounce = QueueMessage.objects.get(parent=qid, source="bounce")
    assert bounce.sender == "" and list(bounce.recipients.values_list("address", flat=True)) == ["alice@example.com"]


def test_the_second_mx_takes_over_when_the_first_is_down(dns_server, settings):
    dns_server.zones["two.test"] = {"MX": [(10, "down.two.test"), (20, "up.two.test")]}
    dns_server.zones["down.two.test"] = {"A": ["127.0.0.2"]}  # nothing listens there
    dns_server.zones["up.two.test"] = {"A": ["127.0.0.1"]}
    with FakeSMTP() as backup:
        settings.MAILAPP_REMOTE_SMTP_PORT = backup.port
        qid = queue(message(), "alice@example.com", ["frank@two.test"])
        deliver_all()
        assert backup.recipients_count() == {"frank@two.test": 1}
    assert QueueRecipient.objects.get(message_id=qid).remote_host == "up.two.test"


def test_a_domain_without_mx_falls_back_to_its_address(dns_server, settings):
    dns_server.zones["plain.test"] = {"A": ["127.0.0.1"]}
    with FakeSMTP() as host:
        settings.MAILAPP_REMOTE_SMTP_PORT = host.port
        queue(message(), "alice@example.com", ["gina@plain.test"])
        deliver_all()
        assert host.recipients_count() == {"gina@plain.test": 1}


def test_opportunistic_starttls_is_used_without_verifying(dns_server, settings):
    with FakeSMTP(starttls=True) as host:
        settings.MAILAPP_REMOTE_SMTP_PORT = host.port
        queue(message(), "alice@example.com", ["dave@remote.test"])
        deliver_all()
        assert [m.tls for m in host.messages] == [True]


def test_a_smarthost_takes_everything_with_authentication(settings):
    with FakeSMTP(auth={"relayuser": "s3cret"}) as relay:
        settings.MAILAPP_SMARTHOST = f"127.0.0.1:{relay.port}"
        settings.MAILAPP_SMARTHOST_TLS = "none"
        settings.MAILAPP_SMARTHOST_USER = "relayuser"
        settings.MAILAPP_SMARTHOST_PASSWORD = "s3cret"
        queue(message(), "alice@example.com", ["zed@nowhere-dns.test"])
        deliver_all()
        assert [(m.rcpt_tos, m.auth_user) for m in relay.messages] == [(["zed@nowhere-dns.test"], "relayuser")]


def test_a_smarthost_with_starttls_must_present_a_valid_certificate(settings):
    with FakeSMTP(starttls=True) as relay:  # self-signed: fine for opportunistic TLS, not for a smarthost
        settings.MAILAPP_SMARTHOST = f"127.0.0.1:{relay.port}"
        settings.MAILAPP_SMARTHOST_TLS = "starttls"
        qid = queue(message(), "alice@example.com", ["zed@nowhere-dns.test"])
        deliver_all()
        assert relay.messages == []
    rcpt = QueueRecipient.objects.get(message_id=qid)
    assert rcpt.state == "deferred" and "TLS failed" in rcpt.last_error


def test_consecutive_messages_to_one_mx_reuse_the_connection(mx):
    first = queue(message(subject="one"), "alice@example.com", ["dave@remote.test"])
    second = queue(message(subject="two"), "alice@example.com", ["erin@remote.test"])
    assert deliver_all() == {first: "done", second: "done"}
    assert len({m.session for m in mx.messages}) == 1 and len(mx.messages) == 2


def test_a_cached_connection_the_remote_closed_is_replaced(mx):
    from agents.delivery import connections

    queue(message(subject="one"), "alice@example.com", ["dave@remote.test"])
    deliver_all()
    for pool in connections.cache._pools.values():
        for entry in pool:
            entry.client.sock.close()  # the remote hung up while it sat idle
    queue(message(subject="two"), "alice@example.com", ["erin@remote.test"])
    deliver_all()
    assert mx.recipients_count() == {"dave@remote.test": 1, "erin@remote.test": 1}


def test_an_internationalised_domain_is_looked_up_and_addressed_in_a_labels(dns_server, mx):
    dns_server.zones["xn--bcher-kva.test"] = {"MX": [(10, "mx1.remote.test")]}
    qid = queue(message(), "alice@example.com", ["ulla@bücher.test"])
    assert deliver_all() == {qid: "done"}
    assert mx.recipients_count() == {"ulla@xn--bcher-kva.test": 1}
