"""Store benchmark: a folder of N messages (default 100,000), timed the way IMAP and webmail use it.

    .venv/bin/python bench/store_bench.py [--messages 100000] [--dir /tmp/x] [--keep]

The folder is filled by dropping Maildir files in ``cur/`` and letting the store
adopt them (the path a migrated Dovecot mailbox takes), then a few deliveries
are timed one by one (each fsynced). Prints one line per measure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.store import Store  # noqa: E402
from agents.store.index import forget  # noqa: E402


def sample(i: int) -> bytes:
    return (
        f"From: Sender {i % 97} <sender{i % 97}@example.org>\r\nTo: alice@example.com\r\n"
        f"Subject: Message number {i} about topic {i % 13}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{i}@bench.example.org>\r\n\r\nBody of message {i}.\r\n" + "Some text.\r\n" * (i % 20)
    ).encode()


class Timer:
    def __init__(self, label: str) -> None:
        self.label = label

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
        print(f"{self.label:<48} {self.seconds * 1000:10.1f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the directory afterwards")
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="store-bench-"))
    store = Store(base / "mail")
    mailbox = store.mailbox("alice@example.com")
    cur = mailbox.path / "cur"
    count = args.messages
    print(f"store benchmark: {count} messages in {mailbox.path}")

    if mailbox.folder("INBOX").exists >= count * 9 // 10:
        print("reusing the folder built by an earlier run (--dir)")
    else:
        with Timer(f"write {count} files into cur/ (outside the store)"):
            now = int(time.time())
            for i in range(count):
                name = f"{now - count + i}.M{i}P1Q{i}.bench,S=0:2,{'S' if i % 3 else ''}"
                (cur / name).write_bytes(sample(i))
        time.sleep(0.05)
        with Timer(f"first open: adopt {count} files (parse + index)"):
            folder = mailbox.folder("INBOX")
        assert folder.exists == count, folder.exists

    forget(mailbox.index_path)  # what a new process pays
    with Timer("open mailbox + SELECT (counters, first unseen)"):
        folder = store.mailbox("alice@example.com").folder("INBOX")
        _ = (folder.exists, folder.unseen, folder.uidnext, folder.uidvalidity, folder.highestmodseq)
        folder.first_unseen()
    with Timer("refresh() with nothing changed (x1000)"):
        for _ in range(1000):
            folder.refresh()
    with Timer("poll() highestmodseq (x1000)"):
        for _ in range(1000):
            folder.poll()
    with Timer("messages() all metas (FETCH 1:* FLAGS)"):
        metas = folder.messages()
    count = len(metas)
    with Timer("messages() again, nothing changed (kept listing)"):
        folder.messages()
    with Timer("page: newest 50 summaries"):
        page = folder.page(0, 50)
    with Timer("envelope + bodystructure of newest 50"):
        for line in page:
            folder.envelope(line.uid)
            folder.bodystructure(line.uid)
    with Timer(f"page at offset {count // 2:,}"):
        folder.page(count // 2, 50)
    with Timer("search_header subject (index scan)"):
        hits = folder.search_header("subject", "topic 7")
    print(f"  ({len(hits)} hits)")
    targets = [m.uid for m in metas[-2000:-1000]]
    with Timer("store_flags +\\Flagged on 1000"):
        folder.store_flags(targets, ["\\Flagged"], "add")
    with Timer("store_flags +$Keyword on 1000 (no rename)"):
        folder.store_flags(targets, ["$Work"], "add")
    mark = folder.poll()
    with Timer("changes_since (1000 changed)"):
        changes = folder.changes_since(mark - 2)
    assert len(changes.changed) == 1000
    with Timer("copy 1000 to Trash"):
        folder.copy(targets, "Trash")
    with Timer("expunge 1000"):
        gone = folder.expunge(targets)
    assert len(gone) == 1000
    with Timer("refresh after own changes (no rescan)"):
        folder.refresh()
    with Timer("messages() after 2000 flag changes + 1000 expunged"):
        folder.messages()
    time.sleep(0.05)
    (mailbox.path / "new" / f"{int(time.time())}.dropped.bench").write_bytes(sample(count + 1))
    with Timer("refresh after a file dropped into new/ by hand"):
        folder.refresh()
    with Timer("forced full rescan (nothing to change)"):
        folder.rescan()
    raw = sample(7)
    with Timer(f"{args.deliveries} deliveries with keys (fsynced, each)") as t:
        for i in range(args.deliveries):
            mailbox.deliver(raw, delivery_key=f"bench:{time.time()}:{i}")
    print(f"  {t.seconds / args.deliveries * 1000:.2f} ms per delivery")
    with Timer("usage()"):
        mailbox.usage()
    size = sum(os.path.getsize(mailbox.path / n) for n in os.listdir(mailbox.path) if n.startswith("mailapp-index"))
    print(f"index size: {size / 1e6:.1f} MB for {count + args.deliveries} messages")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if not args.keep and args.dir is None:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
