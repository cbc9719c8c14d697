"""Cluster mode: removing a mailbox homed on another node retires its mail there (a task on that
node's own queue), never on the node where the removal was clicked."""

import uuid
from pathlib import Path

from django.conf import settings as django_settings

from agents.store import default_store
from agents.tasks import retire_mailbox
from webadmin import services

from .nodes import published


def test_removing_a_mailbox_homed_elsewhere_retires_it_on_its_home_node(db, make_mailbox, settings,
                                                                        django_capture_on_commit_callbacks):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "a"
    home = f"b{uuid.uuid4().hex[:8]}"  # a queue no earlier run left anything in
    mailbox = make_mailbox("alice@example.com", home_node=home)
    default_store().mailbox("alice@example.com").deliver(b"Subject: kept\r\n\r\nhi\r\n")  # as if on its home
    maildir = Path(django_settings.MAILAPP_MAIL_ROOT) / "example.com" / "alice"

    with published() as sent, django_capture_on_commit_callbacks(execute=True):
        services.remove_mailbox(mailbox, "keep")
    assert maildir.is_dir(), "node a retired a mailbox homed on another node"
    assert ("agents.tasks.retire_mailbox", ["alice@example.com", "keep"], f"deliver.{home}") in sent, sent

    settings.MAILAPP_NODE = home  # the home node's worker runs it
    where = retire_mailbox.run("alice@example.com", "keep")
    assert not maildir.exists() and Path(where).is_dir()

