"""Story 6: ``bin/sendmail -t`` (what cron and local programs call) queues, and the worker delivers.

The command runs next to the running appliance with its environment, reads the
recipients from the headers (``-t``), returns 0 once the message is queued, and
the real Celery worker puts it in the mailbox, where IMAP finds it.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import REPO
from tests.e2e.clients import Api, message, new_message_id, wait_for_messages

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "story6.test"


def test_sendmail_t_queues_and_the_worker_delivers(appliance, admin_token):
    Api(appliance, admin_token).domain_with_mailboxes(DOMAIN, "ops")
    mid = new_message_id("cron")
    raw = message("cron@localhost", f"ops@{DOMAIN}", "Nightly backup finished", mid)
    done = subprocess.run([str(REPO / "bin" / "sendmail"), "-t", "-i"], input=raw, capture_output=True,
                          timeout=60, env=appliance.env)
    assert done.returncode == 0, done.stderr.decode()
    wait_for_messages(appliance, f"ops@{DOMAIN}", {mid})


def test_sendmail_refuses_a_message_without_recipients(appliance):
    done = subprocess.run([str(REPO / "bin" / "sendmail"), "-t"], input=b"Subject: nobody\r\n\r\nHi\r\n",
                          capture_output=True, timeout=60, env=appliance.env)
    assert done.returncode != 0
    assert b"no recipients" in done.stderr
