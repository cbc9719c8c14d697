"""Cluster mode: an external source is polled by its mailbox's home node (a task on its queue)."""

import uuid

from agents.fetch import tasks
from tests.cluster.nodes import take_task


def test_a_due_source_is_polled_on_the_home_node_of_its_mailbox(make_source, example_com, settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "a"
    home = f"b{uuid.uuid4().hex[:8]}"  # a queue no earlier run left anything in
    example_com.mailboxes.filter(local_part="alice").update(home_node=home)
    source = make_source("imap")
    assert tasks.poll_sources() == 1
    assert take_task(f"deliver.{home}") == ("agents.fetch.tasks.fetch_source", [source.pk])
