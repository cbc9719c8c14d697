"""A source on a loopback Dovecot delivers its messages once, with keep and with delete, over POP3 and IMAP."""

from __future__ import annotations

import pytest

from agents.fetch.engine import poll
from agents.models import FetchState
from tests.fetch.conftest import REMOTE_USER, inbox_subjects, message


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_keep_fetches_each_message_once_and_leaves_them_on_the_server(protocol, make_source, fill, remote, store):
    source = make_source(protocol, keep=True)
    fill(3)
    first = poll(source.pk)
    second = poll(source.pk)
    assert (first.fetched, first.error, second.fetched) == (3, "", 0)
    assert inbox_subjects(store) == ["Remote 1", "Remote 2", "Remote 3"]
    assert len(remote.messages(REMOTE_USER)) == 3
    fill(1, start=4)
    assert poll(source.pk).fetched == 1
    assert len(inbox_subjects(store)) == 4
    state = FetchState.objects.get(source_id=source.pk)
    assert state.last_success and not state.last_error and state.fetched == 4


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_delete_removes_messages_from_the_server_once_stored(protocol, make_source, fill, remote, store):
    source = make_source(protocol, keep=False)
    fill(3)
    result = poll(source.pk)
    assert (result.fetched, result.deleted, result.error) == (3, 3, "")
    assert remote.messages(REMOTE_USER) == []
    assert inbox_subjects(store) == ["Remote 1", "Remote 2", "Remote 3"]
    assert poll(source.pk).fetched == 0


def test_fetched_mail_passes_through_the_mailbox_filters(make_source, fill, store, example_com):
    alice = example_com.mailboxes.get(local_part="alice")
    alice.filters.create(name="file remote", conditions=[{"field": "subject", "op": "contains", "value": "Remote 2"}],
                         actions=[{"action": "fileinto", "folder": "Lists"}])
    source = make_source("imap")
    fill(3)
    assert poll(source.pk).fetched == 3
    assert inbox_subjects(store) == ["Remote 1", "Remote 3"]
    assert inbox_subjects(store, folder="Lists") == ["Remote 2"]


def test_imap_collects_a_named_folder_with_a_non_ascii_name(make_source, remote, store):
    remote.add_message(REMOTE_USER, message(7, "Draft"), "1700000999.Mdraft7P1.test", folder_dir=".Entw&APw-rfe")
    remote.add_message(REMOTE_USER, message(8, "Inbox"), "1700000998.Minbox8P1.test")
    source = make_source("imap", folder="Entwürfe")
    result = poll(source.pk)
    assert (result.error, result.fetched) == ("", 1)
    assert inbox_subjects(store) == ["Draft 7"]

