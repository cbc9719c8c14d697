"""Cluster mode, in one process playing two nodes: a mailbox homed elsewhere gets a copy pinned to
its home node; only that node takes it, and while the node is dead the copy waits in the queue."""

import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from agents.cluster.nodes import renew, stopped
from agents.delivery import runner
from agents.models import QueueMessage, SpooledBody
from agents.queue import Envelope, submit
from agents.tasks import sweep_queue

RAW = b"From: someone@remote.test\r\nSubject: for two homes\r\n\r\nhello\r\n"


@pytest.fixture(autouse=True)
def _no_mail_from_earlier_tests():
    shutil.rmtree(Path(django_settings.MAILAPP_MAIL_ROOT) / "example.com", ignore_errors=True)


def inbox(address: str) -> list[Path]:
    local, _, domain = address.partition("@")
    box = Path(django_settings.MAILAPP_MAIL_ROOT) / domain / local
    return [f for sub in ("new", "cur") for f in (box / sub).glob("*")]


def test_a_copy_for_another_home_node_waits_for_that_node_and_only_it_delivers(db, make_mailbox, settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "b"
    make_mailbox("alice@example.com", home_node="b")
    make_mailbox("carol@example.com", home_node="c")
    qid = submit(RAW, Envelope(sender="someone@remote.test", recipients=["alice@example.com", "carol@example.com"]),
                 enqueue=False)
    assert SpooledBody.objects.filter(message_id=qid).exists(), "cluster mode spools the body in the database"

    assert runner.run(qid) == "done"
    assert len(inbox("alice@example.com")) == 1
    assert inbox("carol@example.com") == [], "node b wrote a mailbox homed on node c"
    copy = QueueMessage.objects.get(parent=qid, source="route")
    assert (copy.node, list(copy.recipients.values_list("address", flat=True))) == ("c", ["carol@example.com"])
    assert not SpooledBody.objects.filter(message_id=qid).exists(), "a finished message's body stays spooled"

    assert runner.run(copy.queue_id) == "skipped", "node b took a copy pinned to node c"
    stopped("c")  # node c is down: the sweeper leaves its copy in the queue, not in a broker queue nobody reads
    assert runner.pinned_nodes([copy.queue_id]) == {copy.queue_id: False}
    assert sweep_queue(grace=0) == 0
    renew("c", "127.0.0.4", 15)  # node c is back
    assert runner.pinned_nodes([copy.queue_id]) == {copy.queue_id: "c"}

    settings.MAILAPP_NODE = "c"
    assert runner.run(copy.queue_id) == "done"
    assert len(inbox("carol@example.com")) == 1 and len(inbox("alice@example.com")) == 1
    assert runner.run(qid) == "skipped" and runner.run(copy.queue_id) == "skipped"
    assert SpooledBody.objects.count() == 0


def test_on_one_machine_the_home_node_column_changes_nothing(db, make_mailbox, settings):
    settings.MAILAPP_NODE = "new-hostname"  # the host was renamed after the mailbox was made
    make_mailbox("carol@example.com", home_node="old-hostname")
    qid = submit(RAW, Envelope(sender="someone@remote.test", recipients=["carol@example.com"]), enqueue=False)
    assert runner.run(qid) == "done"
    assert len(inbox("carol@example.com")) == 1
    assert not QueueMessage.objects.filter(source="route").exists()
