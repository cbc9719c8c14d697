"""A mailbox's sidecar SQLite file: beside its index, made on first write only, moved with the mailbox."""

from __future__ import annotations

import shutil

import pytest

from agents.store import Store, StoreError

SCHEMA = "CREATE TABLE IF NOT EXISTS notes (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"


def test_reading_a_sidecar_never_written_makes_nothing(mailbox):
    side = mailbox.sidecar("notes", SCHEMA)
    with side.read() as conn:
        assert conn is None
    assert not side.exists()
    assert not list(mailbox.path.glob("mailapp-notes*"))


def test_a_write_makes_the_file_beside_the_index_and_a_read_sees_it(mailbox):
    side = mailbox.sidecar("notes", SCHEMA)
    with side.write() as conn:
        conn.execute("INSERT INTO notes VALUES ('a', 1)")
    assert side.path == mailbox.path / "mailapp-notes.sqlite"
    assert side.path.parent == mailbox.index_path.parent
    with side.read() as conn:
        assert conn is not None and conn.execute("SELECT v FROM notes WHERE k = 'a'").fetchone() == (1,)
    with side.write() as conn:
        conn.execute("UPDATE notes SET v = 2")
    with side.read() as conn:  # the kept read connection sees the newer write
        assert conn is not None and conn.execute("SELECT v FROM notes").fetchone() == (2,)


def test_a_failing_write_is_rolled_back(mailbox):
    side = mailbox.sidecar("notes", SCHEMA)
    with side.write() as conn:
        conn.execute("INSERT INTO notes VALUES ('a', 1)")
    with pytest.raises(RuntimeError), side.write() as conn:
        conn.execute("UPDATE notes SET v = 9")
        raise RuntimeError("boom")
    with side.read() as conn:
        assert conn is not None and conn.execute("SELECT v FROM notes").fetchone() == (1,)


def test_the_sidecar_is_not_a_folder_and_adds_no_usage(mailbox):
    with mailbox.sidecar("notes", SCHEMA).write() as conn:
        conn.execute("INSERT INTO notes VALUES ('a', 1)")
    assert {f.name for f in mailbox.list_folders()} == {"INBOX", "Sent", "Drafts", "Junk", "Trash"}
    assert mailbox.usage() == 0


@pytest.mark.parametrize("name", ["", "../index", "Notes", "a/b", "x" * 40, "index.sqlite"])
def test_only_short_lowercase_names_make_sidecars(mailbox, name):
    with pytest.raises(StoreError):
        mailbox.sidecar(name, SCHEMA)


def test_the_store_wide_sidecar_is_a_dot_file_at_the_root(store, mailbox):
    side = store.sidecar("notes", SCHEMA)
    with side.write() as conn:
        conn.execute("INSERT INTO notes VALUES ('a', 1)")
    assert side.path == store.root / ".mailapp-notes.sqlite"


def test_the_sidecar_moves_with_the_mailbox_directory(tmp_path, mailbox):
    with mailbox.sidecar("notes", SCHEMA).write() as conn:
        conn.execute("INSERT INTO notes VALUES ('kept', 7)")
    elsewhere = Store(tmp_path / "other")
    target = elsewhere.path_for(mailbox.address)
    target.parent.mkdir(parents=True)
    shutil.move(mailbox.path, target)
    moved = elsewhere.mailbox(mailbox.address).sidecar("notes", SCHEMA)
    with moved.read() as conn:
        assert conn is not None and conn.execute("SELECT v FROM notes WHERE k = 'kept'").fetchone() == (7,)
