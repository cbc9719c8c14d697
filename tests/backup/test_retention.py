"""Retention: the scheduled backup keeps the newest N backups, and what they use stays restorable."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from agents import tasks
from agents.backup import Repository

from .conftest import message


def test_scheduled_backup_keeps_the_newest_and_drops_unused_chunks(db, home, store, key_file, tmp_path, settings):
    settings.MAILAPP_BACKUP_DIR = str(tmp_path / "archive")
    settings.MAILAPP_BACKUP_KEY_FILE = str(key_file)
    settings.MAILAPP_BACKUP_KEEP = 2
    inbox = store.mailbox("alice@example.com")
    inbox.deliver(message("first"), "INBOX")
    names = [tasks.scheduled_backup()]
    first_chunks = {p.name for p in (tmp_path / "archive" / "chunks").glob("*/*")}
    folder = inbox.folder("INBOX")
    folder.expunge(folder.uids(), deleted_only=False)  # "first" is only in the first backup
    for n in range(2):
        inbox.deliver(message(f"later {n}"), "INBOX")
        names.append(tasks.scheduled_backup())

    repo = Repository.open(tmp_path / "archive", key_file=key_file)
    assert repo.manifests() == names[1:]
    stored = {p.name for p in (tmp_path / "archive" / "chunks").glob("*/*")}
    kept = {c for name in names[1:] for e in repo.load_manifest(name)[1]["entries"] for c in e["chunks"]}
    assert stored == kept
    assert first_chunks - stored  # the first backup's own chunks ("first", its index copy) are gone

    call_command("restore", str(tmp_path / "archive"), key_file=str(key_file), backup=names[1])
    restored = store.mailbox("alice@example.com").folder("INBOX")
    assert [restored.read(uid) for uid in restored.uids()] == [message("later 0")]


def test_retention_must_keep_one(db, home, store, key_file, tmp_path):
    store.mailbox("alice@example.com").deliver(message("x"), "INBOX")
    with pytest.raises(CommandError, match="at least one"):
        call_command("backup", str(tmp_path / "archive"), key_file=str(key_file), keep=-1)
