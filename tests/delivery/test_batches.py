"""A delivery run takes many due messages at once: one claim, one group commit per mailbox, one record."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from agents import config
from agents.delivery import runner
from agents.delivery.claim import claim, claim_batch
from agents.models import QueueEvent, QueueMessage, QueueRecipient, SpooledBody
from agents.queue import spool
from agents.queue.group import handoff_heads
from agents.tasks import deliver
from webadmin.models import Mailbox

from .conftest import index_count, maildir_files, message, queue


def _queue(n: int, to: list[str]) -> list[str]:
    return [queue(message(f"batch {i}"), "carol@remote.test", [to[i % len(to)]]) for i in range(n)]


def test_one_run_delivers_every_due_message_and_their_own_runs_skip(example_com):
    ids = _queue(6, ["alice@example.com", "bob@example.com"])
    assert runner.run_batch(ids[0], 10) == {qid: "done" for qid in ids}
    assert [runner.run(qid) for qid in ids[1:]] == ["skipped"] * 5
    assert len(maildir_files("alice@example.com")) == 3 == index_count("alice@example.com")
    assert len(maildir_files("bob@example.com")) == 3 == index_count("bob@example.com")
    assert set(QueueRecipient.objects.values_list("state", flat=True)) == {"delivered"}
    assert QueueEvent.objects.filter(event="delivered").count() == 6
    assert not any(spool.exists(qid) for qid in ids)


def test_a_batch_takes_only_due_free_active_messages_up_to_its_size(example_com):
    first, held, later, taken, *rest = _queue(8, ["alice@example.com"])
    QueueMessage.objects.filter(queue_id=held).update(state="held")
    QueueMessage.objects.filter(queue_id=later).update(next_attempt=timezone.now() + datetime.timedelta(hours=1))
    assert claim(taken, 600)
    token, ids = claim_batch(first, 3, 600)
    assert ids[0] == first and len(ids) == 3 and not {held, later, taken} & set(ids)
    assert set(QueueMessage.objects.filter(claim_token=token).values_list("queue_id", flat=True)) == set(ids)
    second = claim_batch(rest[-1], 10, 600)
    assert second is not None and set(second[1]) == set(rest) - set(ids), "the next batch takes what is left"
    assert claim_batch(first, 10, 600) is None, "a message held by a batch is not taken twice"


def test_a_missing_spool_file_holds_that_message_only(example_com):
    ids = _queue(3, ["alice@example.com"])
    spool.spool_path(ids[1]).unlink(missing_ok=True)  # a small body is spooled in the database on SQLite
    SpooledBody.objects.filter(message_id=ids[1]).delete()
    results = runner.run_batch(ids[0], 10)
    assert results == {ids[0]: "done", ids[1]: "held", ids[2]: "done"}
    assert len(maildir_files("alice@example.com")) == 2


def test_quota_counts_the_copies_earlier_in_the_same_batch(example_com):
    two_fit = 2 * len(message("batch 0")) + 100  # two stored copies fit, a third does not
    Mailbox.objects.filter(local_part="alice").update(quota=two_fit)
    config.invalidate()
    ids = _queue(3, ["alice@example.com"])
    results = runner.run_batch(ids[0], 10)
    assert sorted(results.values()) == ["deferred 1", "done", "done"]
    assert len(maildir_files("alice@example.com")) == 2


def test_a_bad_filter_folder_falls_back_to_inbox_inside_a_batch(example_com):
    from webadmin.models import Filter

    box = Mailbox.objects.get(local_part="alice")
    Filter.objects.create(mailbox=box, name="bad", conditions=[{"field": "subject", "op": "contains", "value": "1"}],
                          actions=[{"action": "fileinto", "folder": "bad\x01name"}])
    config.invalidate()
    ids = _queue(3, ["alice@example.com"])
    assert set(runner.run_batch(ids[0], 10).values()) == {"done"}
    assert len(maildir_files("alice@example.com")) == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_deliver_each_message_once(example_com):
    ids = _queue(12, ["alice@example.com", "bob@example.com"])
    results: dict[str, list[str]] = {}
    barrier = threading.Barrier(4)

    def worker(start: str) -> None:
        barrier.wait(timeout=10)
        try:
            for qid, result in runner.run_batch(start, 4).items():
                results.setdefault(qid, []).append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(qid,)) for qid in ids[::3]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    runner.run_due()  # what a batch that found its first message taken left behind
    assert QueueMessage.objects.filter(state="done").count() == 12
    assert all(r.count("done") <= 1 for r in results.values())
    assert len(maildir_files("alice@example.com")) == 6 and len(maildir_files("bob@example.com")) == 6


def test_one_task_drains_the_whole_queue_batch_by_batch(example_com, settings):
    settings.MAILAPP_DELIVERY_BATCH = 4
    ids = _queue(10, ["alice@example.com", "bob@example.com"])
    assert deliver.run(ids[-1]) == "done"  # the named message first, then three more batches
    assert QueueMessage.objects.filter(state="done").count() == 10
    assert len(maildir_files("alice@example.com")) == 5 == len(maildir_files("bob@example.com"))


def test_a_task_whose_message_was_taken_still_drains_the_rest(example_com):
    first, second, third = _queue(3, ["alice@example.com"])
    assert claim(first, 600)
    assert runner.run_batch(first) == {first: "skipped", second: "done", third: "done"}


def test_the_handoff_sends_one_task_per_batch_of_waiting_messages():
    waiting = [f"Q{n}" for n in range(11)]
    assert handoff_heads(waiting, 5) == ["Q0", "Q5", "Q10"]
    assert handoff_heads(waiting[:1], 50) == ["Q0"] and handoff_heads(waiting[:2], 0) == ["Q0", "Q1"]


def test_a_run_that_stops_at_its_round_bound_leaves_no_claim_behind(example_com, monkeypatch):
    """Full batches claim the next one in their record's transaction; the last round claims nothing more."""
    monkeypatch.setattr(runner, "MAX_ROUNDS", 2)
    ids = _queue(7, ["alice@example.com", "bob@example.com"])
    results = runner.run_batch(ids[0], 2)
    assert list(results.values()).count("done") == 4, "two rounds of two"
    assert not QueueMessage.objects.exclude(claim_token="").exists(), "nothing left claimed for a lease to free"
    assert set(runner.run_batch(None, 10).values()) == {"done"}
    assert QueueMessage.objects.filter(state="done").count() == 7
    assert len(maildir_files("alice@example.com")) == 4 and len(maildir_files("bob@example.com")) == 3


@pytest.mark.django_db(transaction=True)
def test_a_lingering_run_takes_what_arrives_while_it_waits(example_com):
    """A task's run waits MAILAPP_DELIVERY_LINGER for more: a message queued meanwhile needs no task of its own."""
    first = _queue(1, ["alice@example.com"])[0]
    later: list[str] = []

    def arrive() -> None:
        try:
            later.append(_queue(1, ["bob@example.com"])[0])
        finally:
            connection.close()

    timer = threading.Timer(0.05, arrive)
    timer.start()
    try:
        results = runner.run_batch(first, 10, linger=2.0)
    finally:
        timer.join()
    assert results == {first: "done", later[0]: "done"}
    assert len(maildir_files("bob@example.com")) == 1
