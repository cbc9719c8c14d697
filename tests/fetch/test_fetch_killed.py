"""A poll killed with SIGKILL mid-run (a real process) duplicates nothing; the next poll finishes the job."""

from __future__ import annotations

import subprocess
import time

from django.utils import timezone

from agents.fetch.engine import poll
from agents.models import FetchState
from tests.conftest import MANAGE, PYTHON, agent_env
from tests.fetch.conftest import REMOTE_USER


def count(store) -> int:
    folder = store.mailbox("alice@example.com").folder("INBOX")
    folder.refresh()
    return folder.count()


def test_kill_9_mid_fetch_then_rerun_stores_each_message_once(transactional_db, make_source, fill, remote, store,
                                                               settings):
    source = make_source("pop3", keep=False)
    fill(60)
    env = agent_env(MAILAPP_MAIL_ROOT_OVERRIDE=str(settings.MAILAPP_MAIL_ROOT))
    script = ("from django.conf import settings; import os; from pathlib import Path; "
              "settings.MAILAPP_MAIL_ROOT = Path(os.environ['MAILAPP_MAIL_ROOT_OVERRIDE']); "
              f"from agents.fetch.engine import poll; poll({source.pk})")
    child = subprocess.Popen([PYTHON, MANAGE, "shell", "-c", script], env=env)
    deadline = time.monotonic() + 120  # bounds a Django shell starting on a loaded CI machine (30 s was tight)
    while count(store) < 3 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    child.kill()
    child.wait(10)
    stored_before = count(store)
    assert 0 < stored_before < 60, "the child should die mid-run"
    assert len(remote.messages(REMOTE_USER)) == 60  # POP3 deletes only at QUIT
    assert poll(source.pk).skipped == "busy"  # the dead run's lease holds the source ...
    FetchState.objects.filter(source_id=source.pk).update(running_until=timezone.now())  # ... until it expires
    result = poll(source.pk)
    assert result.error == "" and result.fetched + stored_before >= 60
    assert count(store) == 60
    folder = store.mailbox("alice@example.com").folder("INBOX")
    subjects = [s.subject for s in folder.summaries([m.uid for m in folder.messages()])]
    assert len(set(subjects)) == 60 and remote.messages(REMOTE_USER) == []
