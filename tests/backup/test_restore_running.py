"""Restoring a mailbox into a running appliance: IMAP clients see it, with a new UIDVALIDITY."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.core.management import call_command

from agents.store import Store
from tests.imap.conftest import ALICE, RunningServer, _run_server, tls_files  # noqa: F401  (fixture)

from .conftest import message


@pytest.fixture
def running_imap(store: Store, tls_files) -> Iterator[RunningServer]:  # noqa: F811
    yield from _run_server(store, tls_files)


def select(imap) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    status, data = imap.select("INBOX")
    assert status == "OK"
    validity = int(re.search(rb"UIDVALIDITY (\d+)", b" ".join(imap.untagged_responses.get("OK", []))).group(1))
    return int(data[0]), validity


def test_mailbox_restored_into_a_running_appliance_is_seen_by_imap_clients(db, home, store, key_file, tmp_path,
                                                                           running_imap):
    for n in range(3):
        store.mailbox(ALICE).deliver(message(f"before {n}"), "INBOX")
    archive = tmp_path / "archive"
    call_command("backup", str(archive), key_file=str(key_file))
    inbox = store.mailbox(ALICE).folder("INBOX")
    inbox.expunge(inbox.uids()[:2], deleted_only=False)
    store.mailbox(ALICE).deliver(message("after the backup"), "INBOX")
    early = running_imap.login()
    assert select(early)[0] == 2
    old_validity = select(early)[1]

    call_command("restore", str(archive), key_file=str(key_file), mailbox=ALICE)

    imap = running_imap.login()
    count, validity = select(imap)
    assert count == 3
    assert validity > old_validity  # clients that cached UIDs resynchronise
    _, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subjects = sorted(re.findall(rb"Subject: ([^\r\n]+)", b"".join(p[1] for p in data if isinstance(p, tuple))))
    assert subjects == [b"before 0", b"before 1", b"before 2"]
    assert select(early) == (3, validity)  # a session open across the restore sees it on its next SELECT
    replaced = list((home / "archive" / "replaced-by-restore" / "example.com").iterdir())
    assert len(replaced) == 1  # the mailbox it replaced is kept, not deleted
