"""A mailbox copied to another disk as a stream (what a move between nodes sends): the same UIDs,
UIDVALIDITY, flags and folders; a second pass sends only the messages the first lacked; a damaged
or cut stream is refused."""

from __future__ import annotations

import io
import tarfile

import pytest

from agents.store import Store
from agents.store.errors import DeliveryHeld
from agents.store.transfer import TransferError, drop, export_stream, fingerprint, place, receive, unique_names

from .conftest import message


def stream_of(path, scratch, have=frozenset()) -> io.BytesIO:
    return io.BytesIO(b"".join(export_stream(path, scratch, have)))


def test_a_copy_keeps_uids_uidvalidity_flags_and_folders(tmp_path):
    source = Store(tmp_path / "a")
    box = source.mailbox("alice@example.com")
    for n in range(5):
        box.deliver(message(f"m{n}"))
    box.deliver(message("filed"), folder="Lists/Python", flags=["\\Seen", "work"])
    inbox = box.folder("INBOX")
    inbox.store_flags([2], ["\\Flagged"], "add")
    inbox.store_flags([3], ["\\Deleted"], "add")
    inbox.expunge()
    before = {f.name: (box.folder(f.name).uidvalidity, box.folder(f.name).uids()) for f in box.list_folders()}

    target = Store(tmp_path / "b")
    staged = tmp_path / "b" / ".mailapp-move" / "1"
    manifest = receive(stream_of(box.path, tmp_path / "scratch"), staged)
    assert manifest["folders"] == fingerprint(box.index_path)
    place(staged, target.root, "alice@example.com", tmp_path / "aside")

    copy = target.mailbox("alice@example.com")
    after = {f.name: (copy.folder(f.name).uidvalidity, copy.folder(f.name).uids()) for f in copy.list_folders()}
    assert after == before
    assert copy.folder("INBOX").uids() == [1, 2, 4, 5]
    assert copy.folder("INBOX").meta(2).flags == {"\\Flagged"}
    assert copy.folder("Lists/Python").meta(1).flags == {"\\Seen", "work"}
    assert copy.folder("INBOX").read(5) == inbox.read(5)
    copy.deliver(message("after the move"))
    assert copy.folder("INBOX").uids() == [1, 2, 4, 5, 6], "UIDNEXT did not travel with the index"


def test_a_second_pass_sends_only_new_messages_and_follows_flag_renames(tmp_path):
    box = Store(tmp_path / "a").mailbox("alice@example.com")
    for n in range(4):
        box.deliver(message(f"m{n}", body="x" * 5000))
    first = tmp_path / "b" / "pre"
    receive(stream_of(box.path, tmp_path / "s1"), first)
    box.folder("INBOX").store_flags([1], ["\\Seen"], "add")  # renames the file
    box.deliver(message("late"))
    box.folder("INBOX").store_flags([2], ["\\Deleted"], "add")
    box.folder("INBOX").expunge()

    have = {p.name.partition(":")[0] for p in (first / "cur").iterdir()} | {
        p.name.partition(":")[0] for p in (first / "new").iterdir()}
    second = stream_of(box.path, tmp_path / "s2", have)
    sent = [m.name for m in tarfile.open(fileobj=io.BytesIO(second.getvalue()), mode="r|")]
    messages = [name for name in sent if name.split("/")[-2:-1] in (["new"], ["cur"])]
    assert len(messages) == 1 and messages[0].startswith("new/"), sent  # only the late one
    final = tmp_path / "b" / "final"
    receive(second, final, earlier=first)
    place(final, tmp_path / "b" / "mail", "alice@example.com", tmp_path / "aside")
    copy = Store(tmp_path / "b" / "mail").mailbox("alice@example.com")
    assert copy.folder("INBOX").uids() == [1, 3, 4, 5]
    assert copy.folder("INBOX").meta(1).flags == {"\\Seen"}
    assert copy.folder("INBOX").read(5) == box.folder("INBOX").read(5)


def test_a_cut_or_damaged_stream_is_refused(tmp_path):
    box = Store(tmp_path / "a").mailbox("alice@example.com")
    box.deliver(message("one", body="y" * 20000))
    whole = stream_of(box.path, tmp_path / "s").getvalue()
    with pytest.raises((TransferError, tarfile.TarError)):
        receive(io.BytesIO(whole[: len(whole) // 2]), tmp_path / "cut")
    at = whole.index(b"y" * 100)
    damaged = whole[:at] + b"z" + whole[at + 1:]
    with pytest.raises(TransferError, match="differs"):
        receive(io.BytesIO(damaged), tmp_path / "damaged")


def test_the_old_copy_is_removed_only_if_nothing_changed_it(tmp_path):
    root = tmp_path / "a"
    box = Store(root).mailbox("alice@example.com")
    box.deliver(message("one"))
    expected = fingerprint(box.index_path)
    box.deliver(message("slipped in after the last copy"))
    removed, kept, late = drop(root, "alice@example.com", expected, tmp_path / "aside")
    assert not removed and kept.is_dir() and not box.path.exists()
    assert [b"slipped in" in p.read_bytes() for p in late] == [True], "the late message was not named"

    other = Store(root).mailbox("bob@example.com")
    other.deliver(message("one"))
    removed, _, late = drop(root, "bob@example.com", fingerprint(other.index_path), tmp_path / "aside")
    assert removed and not other.path.exists() and late == []
    assert [p.name for p in (tmp_path / "aside").iterdir()] == [kept.name]


def test_a_held_delivery_stores_nothing_and_leaves_no_file(tmp_path):
    box = Store(tmp_path / "a").mailbox("alice@example.com")
    with pytest.raises(DeliveryHeld, match="frozen"):
        box.deliver_many([(message("x"), "k1", "INBOX", ())], guard=lambda: "frozen for a move")
    assert box.folder("INBOX").uids() == []
    assert not [p for p in box.path.rglob("*") if p.parent.name in ("tmp", "new", "cur") and p.is_file()]
    assert box.deliver_many([(message("x"), "k1", "INBOX", ())], guard=lambda: "") == [("INBOX", 1)]


def test_flag_changes_after_the_first_pass_reach_the_copy(tmp_path):
    """A late \\Seen (a message moving from new/ to cur/), a keyword, a removed flag, a change in another
    folder: the second pass, which sends no message again, still carries every message's flags."""
    box = Store(tmp_path / "a").mailbox("alice@example.com")
    for n in range(4):
        box.deliver(message(f"m{n}"))
    box.deliver(message("filed"), folder="Lists/Python", flags=["\\Seen"])
    inbox = box.folder("INBOX")
    inbox.store_flags([2], ["\\Flagged", "\\Seen"], "add")
    first = tmp_path / "b" / "pre"
    receive(stream_of(box.path, tmp_path / "s1"), first)

    inbox.store_flags([1], ["\\Seen"], "add")  # new/ -> cur/ with :2,S
    inbox.store_flags([2], ["\\Seen"], "remove")
    inbox.store_flags([3], ["$Work", "\\Answered"], "add")
    box.folder("Lists/Python").store_flags([1], ["\\Flagged"], "add")
    wanted = {name: {uid: box.folder(name).meta(uid).flags for uid in box.folder(name).uids()}
              for name in ("INBOX", "Lists/Python")}

    second = stream_of(box.path, tmp_path / "s2", set(unique_names(first)))
    sent = [m.name for m in tarfile.open(fileobj=io.BytesIO(second.getvalue()), mode="r|")]
    assert not [name for name in sent if name.split("/")[-2:-1] in (["new"], ["cur"])], sent
    final = tmp_path / "b" / "final"
    receive(second, final, earlier=first)
    place(final, tmp_path / "b" / "mail", "alice@example.com", tmp_path / "aside")
    copy = Store(tmp_path / "b" / "mail").mailbox("alice@example.com")
    got = {name: {uid: copy.folder(name).meta(uid).flags for uid in copy.folder(name).uids()}
           for name in ("INBOX", "Lists/Python")}
    assert got == wanted
    assert wanted["INBOX"][1] == {"\\Seen"} and wanted["INBOX"][3] == {"$Work", "\\Answered"}
    assert "$Work" in copy.folder("INBOX").keywords()
    on_disk = {p.name.partition(":")[0]: p.name for p in (copy.path / "cur").iterdir()}
    assert all(name.endswith(":2,S") for uniq, name in on_disk.items()
               if uniq == box.folder("INBOX").meta(1).key), on_disk
