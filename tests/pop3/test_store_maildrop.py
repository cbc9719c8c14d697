"""The maildrop adapter over agents.store: snapshot, CRLF sizes, UIDL, read-ahead, expunge, \\Seen, lock."""

from __future__ import annotations

import asyncio

import pytest

from agents.pop3.maildrop import StoreMaildrop
from agents.pop3.session import MaildropInUse, MessageUnavailable
from agents.store import Store


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "mail")


def test_sizes_are_crlf_sizes_and_uidl_is_uidvalidity_dot_uid(store):
    box = store.mailbox("carol@example.net")
    box.deliver(b"Subject: lf\n\nline one\nline two\n")
    drop = StoreMaildrop.open(store, "carol@example.net")
    try:
        inbox = box.folder("INBOX")
        [message] = drop.messages
        data = asyncio.run(drop.fetch(message.uid))
        assert data == b"Subject: lf\r\n\r\nline one\r\nline two\r\n"
        assert message.size == len(data)
        assert message.uidl == f"{inbox.uidvalidity}.{message.uid}"
    finally:
        asyncio.run(drop.release())


def test_in_order_reads_come_from_the_page_cache_without_a_thread(store):
    box = store.mailbox("carol@example.net")
    raws = [f"Subject: {i}\r\n\r\n{'x' * i}\r\n.dot\r\n".encode() for i in range(40)]
    for raw in raws:
        box.deliver(raw)
    drop = StoreMaildrop.open(store, "carol@example.net")
    try:
        out = []
        for message in drop.messages:
            out.append(bytes(drop.fetch_now(message)))
            drop.read_ahead(message.uid)
        assert out == raws
        assert drop._job is None, "warm files need no reader thread"
        assert asyncio.run(drop.fetch(drop.messages[3].uid)) == raws[3]  # the thread's way gives the same
    finally:
        asyncio.run(drop.release())


def test_after_a_page_cache_miss_the_next_messages_are_read_ahead(store):
    box = store.mailbox("carol@example.net")
    raws = [f"Subject: {i}\r\n\r\n{'x' * i}\r\n".encode() for i in range(40)]
    for raw in raws:
        box.deliver(raw)
    drop = StoreMaildrop.open(store, "carol@example.net")

    async def read_all() -> list[bytes]:
        out = []
        for message in drop.messages:
            drop._cold = True  # as after a read that had to wait for the disk
            data = drop.fetch_now(message)
            out.append(data if data is not None else await drop.fetch(message.uid))
            drop._cold = True
            drop.read_ahead(message.uid)
            if drop._job is not None:
                await asyncio.wrap_future(drop._job)
        return out

    try:
        assert asyncio.run(read_all()) == raws
        assert drop._ahead_end == len(raws), "the reader thread read ahead to the end"
    finally:
        asyncio.run(drop.release())


def test_message_expunged_elsewhere_is_unavailable(store):
    box = store.mailbox("carol@example.net")
    _, uid = box.deliver(b"Subject: gone\r\n\r\nx\r\n")
    drop = StoreMaildrop.open(store, "carol@example.net")
    try:
        box.folder("INBOX").expunge([uid])
        with pytest.raises(MessageUnavailable):
            asyncio.run(drop.fetch(uid))
    finally:
        asyncio.run(drop.release())


def test_expunge_and_mark_seen_go_through_the_store(store):
    box = store.mailbox("carol@example.net")
    uids = [box.deliver(f"Subject: {i}\r\n\r\nx\r\n".encode())[1] for i in range(3)]
    drop = StoreMaildrop.open(store, "carol@example.net")
    try:
        asyncio.run(drop.mark_seen([uids[0]]))
        asyncio.run(drop.expunge([uids[1]]))
    finally:
        asyncio.run(drop.release())
    metas = box.folder("INBOX").messages()
    assert [m.uid for m in metas] == [uids[0], uids[2]]
    assert "\\Seen" in metas[0].flags and "\\Seen" not in metas[1].flags


def test_downloading_again_writes_no_flags_that_are_already_there(store):
    box = store.mailbox("carol@example.net")
    uids = [box.deliver(f"Subject: {i}\r\n\r\nx\r\n".encode())[1] for i in range(3)]
    inbox = box.folder("INBOX")
    inbox.store_flags(uids[:2], ["\\Seen"], "add")
    inbox.refresh()
    modseq = inbox.highestmodseq
    drop = StoreMaildrop.open(store, "carol@example.net")
    try:
        asyncio.run(drop.mark_seen(uids[:2]))  # both were \Seen at login: nothing to write
        inbox.refresh()
        assert inbox.highestmodseq == modseq
        asyncio.run(drop.mark_seen(uids))
    finally:
        asyncio.run(drop.release())
    inbox.refresh()
    assert inbox.highestmodseq > modseq
    assert all("\\Seen" in m.flags for m in inbox.messages())


def test_second_open_is_in_use_until_release(store):
    first = StoreMaildrop.open(store, "carol@example.net")
    with pytest.raises(MaildropInUse):
        StoreMaildrop.open(store, "carol@example.net")
    asyncio.run(first.release())
    asyncio.run(StoreMaildrop.open(store, "carol@example.net").release())
