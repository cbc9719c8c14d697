"""Two processes writing one mailbox at once: nothing lost, nothing doubled, UIDs unique."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from agents.store import Store

from .conftest import message

PER_PROCESS = 15


def _deliver_keys(root: str, keys: list[str]) -> None:
    mailbox = Store(Path(root)).mailbox("alice@example.com")
    for key in keys:
        mailbox.deliver(message(key), delivery_key=key)


def _flag_all(root: str, rounds: int) -> None:
    inbox = Store(Path(root)).mailbox("alice@example.com").folder("INBOX")
    for _ in range(rounds):
        inbox.refresh()
        inbox.store_flags(inbox.uids(), ["\\Seen"], "add")
        inbox.store_flags(inbox.uids(), ["\\Seen"], "remove")


def _run(*jobs: tuple) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=target, args=args) for target, args in jobs]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0


def test_parallel_deliveries_get_unique_uids(store: Store):
    reader = store.mailbox("alice@example.com").folder("INBOX")  # an IMAP session open all along
    mark = reader.poll()
    root = str(store.root)
    _run(
        (_deliver_keys, (root, [f"a{i}" for i in range(PER_PROCESS)])),
        (_deliver_keys, (root, [f"b{i}" for i in range(PER_PROCESS)])),
        (_flag_all, (root, 5)),
    )
    assert reader.poll() > mark and reader.changes_since(mark).changed and reader.refresh() > mark
    assert reader.exists == 2 * PER_PROCESS
    inbox = store.mailbox("alice@example.com").folder("INBOX")
    assert inbox.uids() == list(range(1, 2 * PER_PROCESS + 1))
    assert sorted(s.subject for s in inbox.page(0, 100)) == sorted(
        [f"a{i}" for i in range(PER_PROCESS)] + [f"b{i}" for i in range(PER_PROCESS)]
    )


def test_the_same_keys_delivered_by_two_processes_arrive_once(store: Store):
    store.mailbox("alice@example.com")
    keys = [f"q{i}:alice" for i in range(PER_PROCESS)]
    _run((_deliver_keys, (str(store.root), keys)), (_deliver_keys, (str(store.root), keys[::-1])))
    inbox = store.mailbox("alice@example.com").folder("INBOX")
    files = list((inbox.path / "new").iterdir()) + list((inbox.path / "cur").iterdir())
    assert inbox.exists == PER_PROCESS and len(files) == PER_PROCESS
    assert list((inbox.path / "tmp").iterdir()) == []


def test_threads_share_a_mailbox_with_their_own_connections(store: Store):
    mailbox = store.mailbox("alice@example.com")
    errors: list[BaseException] = []

    def work(prefix: str) -> None:
        try:
            for i in range(10):
                mailbox.deliver(message(f"{prefix}{i}"))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in "xyz"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and mailbox.folder("INBOX").exists == 30


def _open_and_deliver(root: str, tag: str) -> None:
    Store(Path(root)).mailbox("new@example.com").deliver(message(tag), delivery_key=tag)


def test_processes_opening_a_new_mailbox_at_once_make_it_once(store: Store):
    _run(*[(_open_and_deliver, (str(store.root), f"p{i}")) for i in range(4)])
    mailbox = store.mailbox("new@example.com")
    assert [f.name for f in mailbox.list_folders()] == ["INBOX", "Drafts", "Junk", "Sent", "Trash"]
    assert mailbox.folder("INBOX").uids() == [1, 2, 3, 4]
