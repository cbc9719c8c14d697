"""A fetch that dies after k messages duplicates nothing: the re-run collects the rest and deletes all."""

from __future__ import annotations

import pytest

from agents.fetch.engine import fetch_key, poll, store_message
from agents.models import FetchState
from tests.fetch.conftest import REMOTE_USER, inbox_subjects


class Crash(Exception):
    pass


def crash_after(k: int):
    def hook(n: int) -> None:
        if n >= k:
            raise Crash(f"killed after {n}")

    return hook


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_crash_mid_fetch_then_rerun_stores_each_message_once(protocol, make_source, fill, remote, store):
    source = make_source(protocol, keep=False)
    fill(5)
    with pytest.raises(Crash):
        poll(source.pk, after_message=crash_after(2))
    assert len(inbox_subjects(store)) == 2
    assert len(remote.messages(REMOTE_USER)) == 5  # nothing deleted by the run that died
    state = FetchState.objects.get(source_id=source.pk)
    assert state.running_until is None and "internal error: Crash" in state.last_error  # not left locked
    result = poll(source.pk)
    assert (result.fetched, result.deleted) == (3, 5)
    assert inbox_subjects(store) == [f"Remote {n}" for n in range(1, 6)]
    assert remote.messages(REMOTE_USER) == []


def test_crash_between_store_and_record_is_healed_by_the_delivery_key(make_source, fill, store):
    source = make_source("pop3")
    raws = fill(2)
    first = poll(source.pk)
    assert first.fetched == 2
    # As if the run had stored message 1 and died before recording it: forget the record, re-run.
    from agents.models import FetchedMessage

    row = FetchedMessage.objects.filter(source_id=source.pk).order_by("ident").first()
    row.delete()
    assert poll(source.pk).fetched == 1
    assert len(inbox_subjects(store)) == 2
    key = fetch_key(source.pk, row.uidvalidity, row.ident)
    store_message("alice@example.com", key, raws[0])  # and a direct retry stores nothing either
    assert len(inbox_subjects(store)) == 2
