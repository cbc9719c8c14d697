"""The Celery task functions themselves, run in this process."""

from agents.models import QueueEvent, QueueMessage
from agents.queue import spool
from agents.tasks import deliver

from .conftest import maildir_files, message, queue


def test_the_deliver_task_delivers_and_a_second_call_is_a_no_op(example_com):
    qid = queue(message(), "carol@remote.test", ["alice@example.com"])
    assert deliver.run(qid) == "done"
    assert deliver.run(qid) == "skipped"
    assert len(maildir_files("alice@example.com")) == 1


def test_the_deliver_task_is_acks_late_and_named_for_the_queue_api():
    assert deliver.name == "agents.tasks.deliver" and deliver.acks_late


def test_a_message_whose_spool_file_vanished_is_held_not_lost(example_com):
    qid = queue(message(), "carol@remote.test", ["alice@example.com"])
    spool.remove(qid)
    assert deliver.run(qid) == "held"
    row = QueueMessage.objects.get(queue_id=qid)
    assert row.state == "held" and row.last_error == "spool file missing"
    assert row.recipients.get().state == "pending"
    assert QueueEvent.objects.filter(message_id=qid, event="held").exists()


def test_an_unknown_queue_id_is_skipped(db):
    assert deliver.run("NOSUCHID") == "skipped"
