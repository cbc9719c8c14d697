"""kill -9 of a delivering process at a random moment, then a retry of every key: each message exactly once.

Both ways in: one ``deliver`` per message, and ``deliver_many`` batches (group commit), where the
kill lands inside a batch: files written, some renamed into place, the index not yet committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.store import Store

REPO = Path(__file__).resolve().parents[2]
KEYS = 200  # enough that a loaded machine cannot finish them between two polls (the kill must land mid-way)
BATCH = 7
CHILD = """
import sys
from pathlib import Path
from agents.store import Store
mailbox = Store(Path(sys.argv[1])).mailbox("alice@example.com")
keys, batch = int(sys.argv[2]), int(sys.argv[3])
for start in range(0, keys, batch):
    items = [(b"Subject: m%d\\r\\n\\r\\nbody\\r\\n" % i, "q%d:alice" % i, "INBOX", ())
             for i in range(start, min(start + batch, keys))]
    if batch == 1:
        mailbox.deliver(items[0][0], delivery_key=items[0][1])
    else:
        mailbox.deliver_many(items)
"""


def _files(folder) -> int:
    return len(os.listdir(folder.path / "new")) + len(os.listdir(folder.path / "cur"))


@pytest.mark.parametrize("batch", [1, BATCH], ids=["one-by-one", "batches"])
def test_retry_after_kill_stores_each_message_once(store: Store, batch: int):
    inbox_dir = store.mailbox("alice@example.com").folder("INBOX")
    for target in (5, 15):  # kill once a few messages are in, mid-stream: the next is at some random step
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(store.root), str(KEYS), str(batch)], cwd=REPO)
        deadline = time.monotonic() + 120  # bounds a child's start on a loaded machine
        while _files(inbox_dir) < target and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert _files(inbox_dir) < KEYS  # it really died mid-way
    mailbox = store.mailbox("alice@example.com")
    retry = [(f"Subject: m{i}\r\n\r\nbody\r\n".encode(), f"q{i}:alice", "INBOX", ()) for i in range(KEYS)]
    if batch == 1:
        for raw, key, _, _ in retry:
            mailbox.deliver(raw, delivery_key=key)
    else:
        for start in range(0, KEYS, BATCH + 2):  # other batch borders than the killed run's
            mailbox.deliver_many(retry[start : start + BATCH + 2])
    inbox = mailbox.folder("INBOX")
    subjects = sorted(s.subject for s in inbox.page(0, KEYS))
    assert subjects == sorted(f"m{i}" for i in range(KEYS))
    assert _files(inbox) == KEYS and inbox.exists == KEYS
