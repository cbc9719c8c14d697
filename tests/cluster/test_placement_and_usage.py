"""Where a mailbox lives (for a proxy in front), and its quota usage read without its home node's disk."""

import datetime
from pathlib import Path

from django.utils import timezone

from agents.cluster import placement, usage
from agents.cluster.nodes import renew
from agents.models import MailboxUsage, Node
from agents.smtp.directory import ConfigDirectory


def test_on_one_machine_every_mailbox_is_served_here(db, make_mailbox, settings):
    settings.MAILAPP_NODE_ADDRESS = "192.0.2.7"
    make_mailbox("alice@example.com", home_node="some-old-hostname")  # e.g. the host was renamed
    assert placement.home_host("Alice@Example.com") == "192.0.2.7"
    assert placement.home_host("nobody@example.com") is None


def test_in_cluster_mode_a_mailbox_is_placed_on_its_live_home_node(db, make_mailbox, settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "a"
    make_mailbox("alice@example.com", home_node="b")
    make_mailbox("carol@example.com", home_node="c")
    renew("b", "127.0.0.3", 15, starting=True)
    assert placement.home_host("alice@example.com") == "127.0.0.3"
    assert placement.placement("alice@example.com").node == "b"
    assert placement.home_host("carol@example.com") is None, "a node never seen is nowhere"
    Node.objects.filter(name="b").update(lease_until=timezone.now() - datetime.timedelta(seconds=1))
    assert placement.home_host("alice@example.com") is None, "a node whose lease ran out is dead"


def test_the_rcpt_quota_check_reads_another_nodes_mailbox_from_the_database(db, make_mailbox, settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "a"
    make_mailbox("alice@example.com", home_node="b", quota=10_000)
    MailboxUsage.objects.create(address="alice@example.com", bytes=9_900, node="b")
    short = ConfigDirectory().over_quota("alice@example.com", 500)
    assert short is not None, "the home node's figure was not used"
    assert usage.of("alice@example.com") == 9_900
    maildir = Path(settings.MAILAPP_MAIL_ROOT) / "example.com" / "alice"
    assert not maildir.exists(), "a node opened (and so made) a store for a mailbox homed elsewhere"


def test_the_home_node_reads_its_own_store_and_records_the_figure_after_delivery(db, make_mailbox, settings):
    from agents.delivery.local import StoreBatch, StoreWrite

    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "b"
    make_mailbox("alice@example.com", home_node="b")
    batch = StoreBatch()
    raw = b"Subject: hi\r\n\r\nhello\r\n"
    batch.add(StoreWrite("alice@example.com", raw, "q1:alice@example.com", "INBOX", ()))
    batch.commit()
    row = MailboxUsage.objects.get(address="alice@example.com")
    assert (row.bytes, row.node) == (len(raw), "b")
    assert usage.of("alice@example.com") == len(raw)

