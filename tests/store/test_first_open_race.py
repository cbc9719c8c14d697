"""Many sessions opening a mailbox that does not exist yet, at the same moment (threads of one process).

Concurrent first logins used to get ``NO [SERVERBUG]``: the subscriptions file and the
UIDVALIDITY marker were written through a temp file named only by the pid, which every
thread of the process shared, so one thread's rename took the other's file away.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from agents.store import Store
from agents.store.index import INDEX_NAME

THREADS = 16
ROUNDS = 4  # a new mailbox each round: every round is a first open


def _open_all_at_once(root: Path, address: str) -> tuple[list[BaseException], list[int]]:
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    validities: list[int] = []
    lock = threading.Lock()

    def first_login() -> None:
        try:
            barrier.wait(timeout=30)
            box = Store(root).mailbox(address)
            inbox = box.folder("INBOX")
            box.subscribe("INBOX")
            with lock:
                validities.append(inbox.uidvalidity)
        except BaseException as exc:  # collected and asserted on below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=first_login) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors, validities


def test_concurrent_first_opens_all_succeed_with_one_uidvalidity(tmp_path: Path):
    root = tmp_path / "mail"
    for round_ in range(ROUNDS):
        address = f"new{round_}@example.com"
        errors, validities = _open_all_at_once(root, address)
        assert errors == []
        assert len(validities) == THREADS
        assert len(set(validities)) == 1
        mailbox_dir = Store(root).path_for(address)
        subscriptions = (mailbox_dir / "subscriptions").read_text().split()
        assert sorted(subscriptions) == ["Drafts", "INBOX", "Junk", "Sent", "Trash"]
        assert not [p.name for p in mailbox_dir.iterdir() if p.name.endswith(".tmp")]


def test_first_open_waits_for_another_openers_switch_to_wal(tmp_path: Path):
    """Another opener is switching the new index to WAL (it holds the reserved lock): this one waits, not fails.

    SQLite skips the busy timeout there, so under load one of several concurrent first
    opens used to fail at once with "database is locked".
    """
    root = tmp_path / "mail"
    address = "new@example.com"
    mailbox_dir = Store(root).path_for(address)
    mailbox_dir.mkdir(parents=True)
    other = sqlite3.connect(mailbox_dir / INDEX_NAME, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # the lock a concurrent first opener holds while it switches the journal
    release = threading.Timer(0.5, other.execute, ("COMMIT",))
    release.start()
    try:
        box = Store(root).mailbox(address)
        assert box.folder("INBOX").uidvalidity > 0
    finally:
        release.join()
        other.close()
    with closing(sqlite3.connect(mailbox_dir / INDEX_NAME)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
