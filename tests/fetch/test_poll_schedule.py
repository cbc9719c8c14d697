"""Celery beat polls each source on its interval: what is due, what the worker registry knows, a full mailbox."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone

from agents.fetch import tasks
from agents.fetch.engine import poll
from agents.models import FetchState
from tests.fetch.conftest import REMOTE_USER


def test_beat_schedule_and_the_worker_know_the_poller():
    from mailappliance.celery import app

    app.loader.import_default_modules()
    assert settings.CELERY_BEAT_SCHEDULE["poll-external-sources"]["task"] == "agents.fetch.tasks.poll_sources"
    assert {"agents.fetch.tasks.poll_sources", "agents.fetch.tasks.fetch_source"} <= set(app.tasks)


def test_only_due_active_sources_are_polled(make_source, fill):
    due, waiting, paused = make_source("imap"), make_source("imap"), make_source("imap", active=False)
    FetchState.objects.create(source_id=waiting.pk, next_attempt=timezone.now() + datetime.timedelta(minutes=3))
    assert tasks.due_sources() == [due.pk]
    assert paused.pk not in tasks.due_sources()


def test_poll_sources_runs_the_due_ones_and_sets_their_next_time(make_source, fill, settings, monkeypatch):
    source = make_source("imap", interval=600)
    fill(2)
    monkeypatch.setattr(tasks.fetch_source, "delay", lambda source_id: tasks.fetch_source(source_id))  # in-process
    assert tasks.poll_sources() == 1
    state = FetchState.objects.get(source_id=source.pk)
    assert state.fetched == 2 and state.next_attempt > timezone.now() + datetime.timedelta(seconds=590)
    assert tasks.poll_sources() == 0


def test_a_full_mailbox_leaves_the_mail_on_the_server(make_source, fill, remote, example_com):
    alice = example_com.mailboxes.get(local_part="alice")
    alice.quota = 10
    alice.save()
    source = make_source("pop3", keep=False)
    fill(2)
    result = poll(source.pk)
    assert result.fetched == 0 and "larger than the 10 B left in the mailbox" in result.error
    assert len(remote.messages(REMOTE_USER)) == 2
