"""The trace beside accepted mail: refusals (scoped per domain admin), recent mail, mail reached through
an alias; the audit of queue removals, whichever door they came through."""

from __future__ import annotations

from django.core.management import call_command

from agents import config
from agents.delivery import runner
from agents.models import QueueAudit, QueueMessage, Refusal
from agents.queue import Envelope, submit
from webadmin import services

from .conftest import STAFF_PASSWORD


def refusal(**fields) -> Refusal:
    base = {"source": "smtp", "command": "RCPT", "rule": "unknown-recipient", "client_address": "203.0.113.5",
            "client_name": "mx.spammer.test", "sender": "x@spammer.test"}
    base.update(fields)
    base.setdefault("reply", f"550 5.1.1 <{base.get('recipient', '')}>: Recipient address rejected: User unknown")
    return Refusal.objects.create(**base)


def test_refusals_are_found_by_recipient_sender_or_client_address(client, superuser, make_queued):
    refusal(recipient="nobody@example.com")
    make_queued("ACPT0000000000000001", "x@spammer.test", ["alice@example.com"])
    client.login(username="root", password=STAFF_PASSWORD)
    for query in ("nobody@example.com", "X@spammer.test", "203.0.113.5"):
        page = client.get("/dashboard/trace/", {"q": query}).content.decode()
        assert "Recipient address rejected: User unknown" in page and "unknown-recipient" in page, query
    page = client.get("/dashboard/trace/", {"q": "x@spammer.test"}).content.decode()
    assert "ACPT0000000000000001" in page  # beside the accepted mail of the same sender


def test_a_domain_admin_sees_only_refusals_for_their_domains(client, make_domain_admin, make_domain):
    make_domain("other.test")
    make_domain_admin("ann", "example.com")
    refusal(recipient="nobody@example.com")
    refusal(recipient="nobody@other.test", sender="y@spammer.test")
    client.login(username="ann", password=STAFF_PASSWORD)
    assert "nobody@example.com" in client.get("/dashboard/trace/", {"q": "203.0.113.5"}).content.decode()
    page = client.get("/dashboard/trace/", {"q": "nobody@other.test"}).content.decode()
    assert "nobody@other.test</" not in page and "No message matches" in page
    assert "nobody@other.test" not in client.get("/dashboard/trace/").content.decode()  # recent list too


def test_the_trace_lists_recent_messages_and_refusals(client, superuser, make_queued):
    make_queued("RCNT0000000000000001", "alice@example.com", ["bob@example.com"], subject="Newest")
    refusal(recipient="ghost@example.com")
    client.login(username="root", password=STAFF_PASSWORD)
    page = client.get("/dashboard/trace/").content.decode()
    assert "Recent messages" in page and "RCNT0000000000000001" in page and "ghost@example.com" in page


def test_mail_delivered_through_an_alias_is_found_by_the_mailbox(client, superuser, example_com, settings,
                                                                 tmp_path):
    settings.MAILAPP_MAIL_ROOT = tmp_path / "mail"  # this test's own Maildirs and spool
    settings.MAILAPP_SPOOL_DIR = tmp_path / "spool"
    services.create_alias("team@example.com", ["alice@example.com"])
    config.invalidate()
    queue_id = submit(b"Subject: to the team\r\n\r\nhi\r\n",
                      Envelope(sender="carol@remote.test", recipients=["team@example.com"]), enqueue=False)
    runner.run(queue_id)
    client.login(username="root", password=STAFF_PASSWORD)
    response = client.get("/dashboard/trace/", {"q": "alice@example.com"})
    assert response.status_code == 302 and response["Location"].endswith(f"/trace/{queue_id}/")


def test_every_door_that_deletes_queued_mail_is_audited(client, superuser, make_queued):
    for n in range(1, 4):
        make_queued(f"AUDT000000000000000{n}", "alice@example.com", ["x@remote.test"], subject=f"m{n}")
    client.login(username="root", password=STAFF_PASSWORD)
    client.post("/dashboard/queue/AUDT0000000000000001/action/", {"action": "delete"})
    call_command("queuectl", "delete", "AUDT0000000000000002")
    client.post("/admin/agents/queuemessage/",
                {"action": "delete_messages", "_selected_action": ["AUDT0000000000000003"]})
    assert not QueueMessage.objects.exists()
    rows = {a.queue_id: (a.action, a.via, a.who) for a in QueueAudit.objects.all()}
    assert rows["AUDT0000000000000001"] == ("delete", "dashboard", "root")
    assert rows["AUDT0000000000000002"][:2] == ("delete", "cli") and rows["AUDT0000000000000002"][2]
    assert rows["AUDT0000000000000003"] == ("delete", "admin", "root")
    page = client.get("/dashboard/audit/").content.decode()
    assert "AUDT0000000000000001" in page and "dashboard" in page and "m3" in page


def test_a_domain_admin_sees_only_their_domains_audit(client, make_domain_admin, make_domain):
    make_domain("other.test")
    make_domain_admin("ann", "example.com")
    QueueAudit.objects.create(queue_id="MINE0000000000000001", action="delete", via="cli",
                              sender="carol@remote.test", recipients="alice@example.com")
    QueueAudit.objects.create(queue_id="THEM0000000000000001", action="delete", via="cli",
                              sender="carol@remote.test", recipients="zed@other.test")
    client.login(username="ann", password=STAFF_PASSWORD)
    page = client.get("/dashboard/audit/").content.decode()
    assert "MINE0000000000000001" in page and "THEM0000000000000001" not in page
