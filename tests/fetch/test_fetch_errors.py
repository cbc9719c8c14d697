"""A failing source says why (stored on the source's state, shown in the admin) and backs off exponentially."""

from __future__ import annotations

import datetime

from django.utils import timezone

from agents.fetch.engine import BACKOFF_CAP, backoff, poll
from agents.fetch.tasks import due_sources
from agents.models import FetchState
from tests.conftest import free_port


def test_wrong_password_is_a_clear_error_and_the_source_backs_off(make_source, fill):
    source = make_source("imap", password="not-the-password", interval=300)
    fill(1)
    before = timezone.now()
    result = poll(source.pk)
    state = FetchState.objects.get(source_id=source.pk)
    assert result.fetched == 0 and "login as remote refused" in result.error
    assert state.last_error == result.error and state.failures == 1 and state.last_success is None
    assert state.next_attempt >= before + datetime.timedelta(seconds=600)
    assert source.pk not in due_sources()
    FetchState.objects.filter(source_id=source.pk).update(next_attempt=timezone.now())
    poll(source.pk)
    state.refresh_from_db()
    assert state.failures == 2 and state.next_attempt >= before + datetime.timedelta(seconds=1200)


def test_pop3_wrong_password_names_the_login(make_source):
    result = poll(make_source("pop3", password="wrong").pk)
    assert "login as remote refused" in result.error


def test_unreachable_host_is_reported(make_source):
    source = make_source("pop3", port=free_port())
    assert "cannot reach 127.0.0.1" in poll(source.pk).error


def test_tls_to_a_plaintext_server_is_a_tls_failure(make_source):
    source = make_source("imap", tls="tls")
    assert "TLS failure" in poll(source.pk).error


def test_success_clears_the_error(make_source, fill):
    source = make_source("imap")
    FetchState.objects.create(source_id=source.pk, failures=3, last_error="old trouble")
    fill(1)
    assert poll(source.pk).fetched == 1
    state = FetchState.objects.get(source_id=source.pk)
    assert (state.failures, state.last_error) == (0, "") and state.last_success is not None


def test_backoff_doubles_and_is_capped():
    assert backoff(300, 1) == datetime.timedelta(seconds=600)
    assert backoff(300, 2) == datetime.timedelta(seconds=1200)
    assert backoff(300, 50) == BACKOFF_CAP


def test_the_password_is_stored_encrypted(make_source):
    source = make_source("imap", password="hunter2-secret")
    assert "hunter2" not in source.password_encrypted and source.get_password() == "hunter2-secret"
