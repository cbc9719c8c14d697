"""The smtp agent's directory keeps the configuration's answers until the configuration changes.

MAIL and RCPT are answered on the event loop from these answers; a session asking what an
earlier one asked needs no thread and no database. A change of the configuration (the
generation moves, or this process invalidates its cache) drops them at once.
"""

from __future__ import annotations

import pytest

from agents import config
from agents.smtp.directory import ConfigDirectory
from agents.smtp.policy import CacheMiss
from agents.store import default_store
from webadmin import services
from webadmin.models import Mailbox


def test_answers_hold_until_the_configuration_changes(example_com):
    config.refresh(force=True)  # the agent's watcher has looked at the generation
    directory = ConfigDirectory()
    assert directory.recipient_kind("alice@example.com") == "mailbox"
    assert directory.recipient_kind("nobody@example.com") == "unknown"
    cached = directory.cached()
    assert cached.recipient_kind("alice@example.com") == "mailbox"
    assert cached.recipient_kind("nobody@example.com") == "unknown"

    services.create_mailbox("nobody@example.com", None)
    config.invalidate()  # what the generation's move does in every process (within 0.5 s)
    with pytest.raises(CacheMiss):
        directory.cached().recipient_kind("nobody@example.com")
    assert directory.recipient_kind("nobody@example.com") == "mailbox"
    config.refresh()  # the first look after the change: the generation is read again
    assert directory.recipient_kind("nobody@example.com") == "mailbox"
    assert directory.cached().recipient_kind("nobody@example.com") == "mailbox"


def test_a_quota_check_reads_usage_from_a_mailbox_kept_open(example_com):
    Mailbox.objects.filter(local_part="alice").update(quota=10_000)
    default_store().mailbox("alice@example.com")  # its Maildir and index exist (an empty one is not opened)
    config.refresh(force=True)
    config.invalidate()
    directory = ConfigDirectory()
    assert directory.over_quota("alice@example.com", 100) is None
    kept = dict(directory._opened)
    assert list(kept) == ["alice@example.com"]
    directory._usage._data.clear()  # the usage answer expired (2 s)
    assert directory.over_quota("alice@example.com", 20_000) is not None
    assert directory._opened["alice@example.com"] is kept["alice@example.com"], "the same open mailbox"
    config.invalidate()
    directory._usage._data.clear()
    directory.over_quota("alice@example.com", 100)
    assert directory._opened["alice@example.com"] is not kept["alice@example.com"], "reopened after a change"
