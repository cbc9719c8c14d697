"""Cluster mode: an external source is polled by its mailbox's home node (a task on its queue)."""

import uuid

import pytest

from agents.fetch import tasks
from tests.cluster.nodes import published


def test_a_due_source_is_polled_on_the_home_node_of_its_mailbox(make_source, example_com, settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "a"
    home = f"b{uuid.uuid4().hex[:8]}"
    example_com.mailboxes.filter(local_part="alice").update(home_node=home)
    source = make_source("imap")
    with published() as sent:
        assert tasks.poll_sources() == 1
    assert sent == [("agents.fetch.tasks.fetch_source", [source.pk], f"deliver.{home}")]


def test_importmail_refuses_to_run_on_a_node_that_is_not_the_mailboxs_home(example_com, settings, tmp_path):
    from django.core.management import CommandError, call_command

    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "a"
    example_com.mailboxes.filter(local_part="alice").update(home_node="b")
    mbox = tmp_path / "old.mbox"
    mbox.write_bytes(b"From someone@example.net Mon Nov 23 10:00:00 2026\nSubject: old\n\nhi\n")
    with pytest.raises(CommandError) as refused:
        call_command("importmail", str(mbox), "alice@example.com")
    assert "served by node b" in str(refused.value) and "run importmail on that node" in str(refused.value)
    assert not (settings.MAILAPP_MAIL_ROOT / "example.com" / "alice").exists()
