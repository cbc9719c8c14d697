"""Two runs of one queue id never both deliver; a dead run's claim expires; the sweeper finds work."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from agents.delivery import runner
from agents.delivery.claim import claim
from agents.models import QueueMessage
from agents.tasks import sweep_queue

from .conftest import maildir_files, message, queue


def test_a_claimed_message_is_skipped_by_a_second_run(example_com):
    qid = queue(message(), "carol@remote.test", ["alice@example.com"])
    assert claim(qid, 600)
    assert runner.run(qid) == "skipped"
    assert maildir_files("alice@example.com") == []


def test_an_expired_claim_is_taken_over(example_com):
    qid = queue(message(), "carol@remote.test", ["alice@example.com"])
    assert claim(qid, 600)
    QueueMessage.objects.filter(queue_id=qid).update(claimed_until=timezone.now() - datetime.timedelta(seconds=1))
    assert runner.run(qid) == "done"
    assert len(maildir_files("alice@example.com")) == 1


def test_a_run_that_lost_its_claim_records_nothing(example_com):
    qid = queue(message(), "carol@remote.test", ["alice@example.com"])
    token = claim(qid, 600)
    QueueMessage.objects.filter(queue_id=qid).update(claim_token="someone-else")
    message_row = QueueMessage.objects.get(queue_id=qid)
    pending = list(message_row.recipients.all())
    assert runner._finish_many([runner._Work(message_row, pending, {})], token, timezone.now()) == {qid: "lost"}
    assert QueueMessage.objects.get(queue_id=qid).state == "active"


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_one_id_deliver_once(example_com):
    qid = queue(message(), "carol@remote.test", ["alice@example.com"])
    results = []
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait(timeout=10)
        try:
            results.append(runner.run(qid))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results).count("done") == 1 and results.count("skipped") == 3
    assert len(maildir_files("alice@example.com")) == 1


def test_the_sweeper_leaves_fresh_messages_to_their_own_task(example_com):
    fresh = queue(message(), "carol@remote.test", ["alice@example.com"])
    assert runner.due_ids() == []
    QueueMessage.objects.filter(queue_id=fresh).update(created=timezone.now() - datetime.timedelta(minutes=2))
    assert runner.due_ids() == [fresh]
    held = queue(message(), "carol@remote.test", ["bob@example.com"])
    QueueMessage.objects.filter(queue_id=held).update(state="held", attempts=1)
    assert runner.due_ids(grace=datetime.timedelta(0)) == [fresh]
    assert sweep_queue.run(grace=0) == 1


def test_a_recipient_without_a_domain_bounces(example_com):
    qid = queue(message(), "carol@remote.test", ["postmaster"])
    runner.run(qid)
    assert QueueMessage.objects.get(queue_id=qid).recipients.get().state == "bounced"
