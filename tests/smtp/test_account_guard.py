"""The compromised-account guard: a jump in an account's sending holds its mail, suspends it, alerts."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from agents import config
from agents.models import AccountAddress, AccountHold, QueueAudit, QueueMessage, QueueRecipient, Refusal
from agents.queue import accountguard, spool
from tests.conftest import PASSWORD
from webadmin.models import MailPolicy
from webadmin.webmail import compose

from .conftest import message


def send(agent, recipients: list[str], subject: str) -> None:
    with agent.smtp(agent.submission) as client:
        client.starttls(context=agent.client_context())
        client.login("alice@example.com", PASSWORD)
        assert client.sendmail("alice@example.com", recipients,
                               message(subject=subject, sender="alice@example.com")) == {}


def mail_from_reply(agent) -> tuple[int, str]:
    with agent.smtp(agent.submission) as client:
        client.starttls(context=agent.client_context())
        client.login("alice@example.com", PASSWORD)
        code, text = client.mail("alice@example.com")
    return code, text.decode()


@pytest.fixture
def alice_known_elsewhere(db, example_com):
    """Alice has always sent from her office address; the test client (127.0.0.1) is new to her."""
    long_ago = timezone.now() - datetime.timedelta(days=10)
    AccountAddress.objects.create(account="alice@example.com", address="192.0.2.10", first_seen=long_ago,
                                  last_seen=timezone.now() - datetime.timedelta(hours=2))


def test_a_stolen_password_used_from_a_new_address_is_stopped(agent, alice_known_elsewhere, example_com):
    MailPolicy.objects.create(domain=example_com, guard_new_address_recipients=5)  # per domain
    send(agent, ["a1@remote.test", "a2@remote.test"], "first")
    send(agent, ["a3@remote.test", "a4@remote.test"], "second")
    assert not AccountHold.objects.exists()
    send(agent, ["a5@remote.test", "a6@remote.test"], "third")  # 6 recipients from the new address

    hold = AccountHold.objects.get()
    assert (hold.account, hold.trigger, hold.client_address) == ("alice@example.com", "new-address-burst", "127.0.0.1")
    own = QueueMessage.objects.filter(auth_user="alice@example.com")
    assert sorted(own.values_list("subject", "state")) == [("first", "held"), ("second", "held"), ("third", "held")]
    alert = QueueMessage.objects.get(source="guard")
    assert [r.address for r in alert.recipients.all()] == ["postmaster@example.com"]
    assert b"alice@example.com" in spool.read(alert.queue_id) and b"new-address-burst" in spool.read(alert.queue_id)

    # Suspended: the next submission is refused on every door, with one reply.
    suspended = "550 5.7.1 <alice@example.com>: account suspended for unusual sending; contact your postmaster"
    assert mail_from_reply(agent) == (550, suspended[4:])
    draft = compose.Draft(from_addr="alice@example.com", to="b@remote.test", subject="more", body="x")
    with pytest.raises(compose.ComposeError, match="account suspended"):
        compose.send("alice@example.com", "Alice", draft, "198.51.100.9")
    assert Refusal.objects.filter(rule="account-guard", source="webmail").exists()

    # One click by an admin: released, the mail goes on and the account may send again.
    assert len(accountguard.release(hold.pk, "root")) == 3
    assert set(own.values_list("state", flat=True)) == {"active"}
    assert mail_from_reply(agent)[0] == 250
    send(agent, ["a7@remote.test", "a8@remote.test"], "fourth")  # what came before the release is forgiven
    assert AccountHold.objects.count() == 1 and QueueMessage.objects.get(subject="fourth").state == "active"


def test_the_same_sending_from_the_first_address_an_account_uses_is_not_stopped(agent, example_com):
    MailPolicy.objects.create(domain=example_com, guard_new_address_recipients=5)
    for subject in ("first", "second", "third"):
        send(agent, [f"{subject}1@remote.test", f"{subject}2@remote.test"], subject)
    assert not AccountHold.objects.exists()
    assert set(QueueMessage.objects.values_list("state", flat=True)) == {"active"}


def test_deleting_the_held_mail_ends_the_hold_and_is_audited(db, example_com, settings):
    settings.MAILAPP_GUARD_RECIPIENTS = 3
    draft = compose.Draft(from_addr="alice@example.com", to="a@r.test, b@r.test, c@r.test, d@r.test", body="x")
    compose.send("alice@example.com", "Alice", draft, "198.51.100.9")  # queued held: 4 > 3
    hold = AccountHold.objects.get(account="alice@example.com")
    assert hold.trigger == "recipients"
    assert QueueMessage.objects.get(source="webmail").state == "held"
    assert len(accountguard.delete(hold.pk, "root")) == 1
    assert not QueueMessage.objects.filter(source="webmail").exists()
    hold.refresh_from_db()
    assert (hold.outcome, hold.released_by) == ("deleted", "root")
    assert accountguard.suspended("alice@example.com") is None
    assert QueueAudit.objects.filter(action="delete", via="dashboard", who="root").count() == 1


def test_many_unknown_recipients_trip_the_guard_at_the_next_sweep(db, example_com, settings):
    settings.MAILAPP_GUARD_UNKNOWN_RECIPIENTS = 3
    for n in range(4):
        Refusal.objects.create(source="submission", command="RCPT", rule="unknown-recipient",
                               reply="550 5.1.1 User unknown", auth_user="bob@example.com",
                               recipient=f"guess{n}@example.com")
    assert accountguard.sweep() == 1
    assert AccountHold.objects.get().trigger == "unknown-recipients"


def test_many_rejects_from_remote_hosts_trip_the_guard(db, example_com, settings):
    settings.MAILAPP_GUARD_REMOTE_REJECTS = 2
    message_row = QueueMessage.objects.create(queue_id="GRD00000000000000001", sender="bob@example.com",
                                              auth_user="bob@example.com", source="submission")
    for n in range(3):
        QueueRecipient.objects.create(message=message_row, address=f"x{n}@remote.test", state="bounced",
                                      remote_host="mx.remote.test", remote_reply="550 5.7.1 spam")
    pending = QueueMessage.objects.create(queue_id="GRD00000000000000002", sender="bob@example.com",
                                          auth_user="bob@example.com", source="submission")
    QueueRecipient.objects.create(message=pending, address="y@remote.test")
    assert accountguard.sweep() == 1
    assert AccountHold.objects.get().trigger == "remote-rejects"
    pending.refresh_from_db()
    assert pending.state == "held"


def test_thresholds_default_to_the_settings_and_a_domain_may_set_its_own(db, example_com, settings):
    assert accountguard.thresholds_for("alice@example.com").recipients == settings.MAILAPP_GUARD_RECIPIENTS
    MailPolicy.objects.create(domain=example_com, guard_recipients=7)
    config.invalidate()  # this process's cache; running agents see the change within 2 s (tests/api)
    assert accountguard.thresholds_for("alice@example.com").recipients == 7
    assert accountguard.thresholds_for("someone@elsewhere.test").recipients == settings.MAILAPP_GUARD_RECIPIENTS
