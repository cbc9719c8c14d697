"""kill -9 of a delivering process at a random moment, then a retry of every key: each message exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agents.store import Store

REPO = Path(__file__).resolve().parents[2]
KEYS = 30
CHILD = """
import sys
from pathlib import Path
from agents.store import Store
mailbox = Store(Path(sys.argv[1])).mailbox("alice@example.com")
for i in range(int(sys.argv[2])):
    mailbox.deliver(b"Subject: m%d\\r\\n\\r\\nbody\\r\\n" % i, delivery_key="q%d:alice" % i)
"""


def _files(folder) -> int:
    return len(os.listdir(folder.path / "new")) + len(os.listdir(folder.path / "cur"))


def test_retry_after_kill_stores_each_message_once(store: Store):
    inbox_dir = store.mailbox("alice@example.com").folder("INBOX")
    for target in (5, 15):  # kill once a few messages are in, mid-stream: the next is at some random step
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(store.root), str(KEYS)], cwd=REPO)
        deadline = time.monotonic() + 30
        while _files(inbox_dir) < target and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert _files(inbox_dir) < KEYS  # it really died mid-way
    mailbox = store.mailbox("alice@example.com")
    for i in range(KEYS):
        mailbox.deliver(f"Subject: m{i}\r\n\r\nbody\r\n".encode(), delivery_key=f"q{i}:alice")
    inbox = mailbox.folder("INBOX")
    subjects = sorted(s.subject for s in inbox.page(0, 100))
    assert subjects == sorted(f"m{i}" for i in range(KEYS))
    assert _files(inbox) == KEYS and inbox.exists == KEYS
