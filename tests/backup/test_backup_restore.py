"""manage.py backup and restore: whole appliance, one domain, one mailbox, and damaged archives refused."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from agents.backup import Repository, backup
from agents.store import Store
from webadmin.models import Mailbox

from .conftest import message


def contents(store: Store, address: str, folder: str = "INBOX") -> list[bytes]:
    box = store.mailbox(address).folder(folder)
    return [box.read(uid) for uid in box.uids()]


def test_whole_restore_brings_back_database_mail_spool_and_keys(transactional_db, example_com, home, store,
                                                                  key_file, tmp_path):
    for n in range(3):
        store.mailbox("alice@example.com").deliver(message(f"alice {n}"), "INBOX")
    store.mailbox("alice@example.com").deliver(message("kept draft"), "Drafts")
    store.mailbox("bob@example.com").deliver(message("bob 1"), "INBOX")
    (home / "spool" / "ab").mkdir()
    (home / "spool" / "ab" / "Q1234").write_bytes(b"queued message")
    (home / "tls" / "key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nsecret\n")
    (home / "srs_secrets").write_text("newest-srs-secret\nolder-srs-secret\n")
    before = contents(store, "alice@example.com")
    uidvalidity = store.mailbox("alice@example.com").folder("INBOX").uidvalidity
    archive = tmp_path / "archive"

    call_command("backup", str(archive), key_file=str(key_file))

    Mailbox.objects.filter(local_part="alice").delete()
    import shutil

    shutil.rmtree(home / "mail")
    shutil.rmtree(home / "spool")
    (home / "tls" / "key.pem").unlink()
    (home / "srs_secrets").unlink()

    call_command("restore", str(archive), key_file=str(key_file))

    assert Mailbox.objects.filter(local_part="alice", domain__name="example.com").exists()
    restored = Store(home / "mail")
    assert contents(restored, "alice@example.com") == before
    assert contents(restored, "alice@example.com", "Drafts") == [message("kept draft")]
    assert restored.mailbox("alice@example.com").folder("INBOX").uidvalidity == uidvalidity  # index came back whole
    assert contents(restored, "bob@example.com") == [message("bob 1")]
    assert (home / "spool" / "ab" / "Q1234").read_bytes() == b"queued message"
    assert (home / "tls" / "key.pem").read_bytes().endswith(b"secret\n")
    assert (home / "srs_secrets").read_text() == "newest-srs-secret\nolder-srs-secret\n"  # forwards' bounces verify


def test_one_domain_is_restored_and_other_domains_are_left_alone(db, home, store, key_file, tmp_path):
    store.mailbox("carol@example.org").deliver(message("carol 1"), "INBOX")
    store.mailbox("alice@example.com").deliver(message("alice 1"), "INBOX")
    archive = tmp_path / "archive"
    call_command("backup", str(archive), key_file=str(key_file))
    carol = store.mailbox("carol@example.org").folder("INBOX")
    carol.expunge(carol.uids(), deleted_only=False)
    store.mailbox("alice@example.com").deliver(message("alice 2"), "INBOX")

    call_command("restore", str(archive), key_file=str(key_file), domain="example.org")

    assert contents(store, "carol@example.org") == [message("carol 1")]
    assert contents(store, "alice@example.com") == [message("alice 1"), message("alice 2")]


def test_second_backup_of_an_unchanged_store_writes_only_a_manifest(db, home, store, key_file, tmp_path):
    for n in range(20):
        store.mailbox("alice@example.com").deliver(message(f"m {n}", "x" * 2000 + "\r\n"), "INBOX")
    first = backup(Repository.open(tmp_path / "archive", key_file=key_file, create=True))
    chunks = sorted((tmp_path / "archive" / "chunks").rglob("*"))
    repo = Repository.open(tmp_path / "archive", key_file=key_file)
    second = backup(repo)
    new_chunks = {p.name for p in (tmp_path / "archive" / "chunks").rglob("*") if p.is_file()} - {
        p.name for p in chunks if p.is_file()}
    # Only the database copy may differ (pg_dump stamps its dump; SQLite's copy is byte-identical):
    # no mail chunk is written again.
    _, manifest = repo.load_manifest()
    database = {c for e in manifest["entries"] if e["path"].startswith("database") for c in e["chunks"]}
    assert new_chunks <= database
    assert second["files"] == first["files"]
    assert second["written"] < first["written"]  # the manifest, the index and database copies only


def test_a_damaged_archive_is_refused_and_nothing_live_changes(db, home, store, key_file, tmp_path):
    store.mailbox("alice@example.com").deliver(message("original"), "INBOX")
    archive = tmp_path / "archive"
    call_command("backup", str(archive), key_file=str(key_file))
    store.mailbox("alice@example.com").deliver(message("newer"), "INBOX")
    chunk = max((p for p in (archive / "chunks").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x01
    chunk.write_bytes(bytes(data))

    with pytest.raises(CommandError, match="damaged or was tampered with"):
        call_command("restore", str(archive), key_file=str(key_file))

    assert contents(store, "alice@example.com") == [message("original"), message("newer")]


def test_a_wrong_key_and_a_tampered_manifest_are_refused(db, home, store, key_file, tmp_path):
    store.mailbox("alice@example.com").deliver(message("original"), "INBOX")
    archive = tmp_path / "archive"
    call_command("backup", str(archive), key_file=str(key_file))
    other = tmp_path / "other.key"
    other.write_bytes(b"y" * 32)
    with pytest.raises(CommandError, match="wrong passphrase or key file"):
        call_command("restore", str(archive), key_file=str(other))
    manifest = next((archive / "manifests").iterdir())
    manifest.write_bytes(manifest.read_bytes()[:-1] + b"\0")
    with pytest.raises(CommandError, match="tampered"):
        call_command("restore", str(archive), key_file=str(key_file))


def test_a_passphrase_keys_the_archive(db, home, store, tmp_path, settings, monkeypatch):
    store.mailbox("alice@example.com").deliver(message("original"), "INBOX")
    settings.MAILAPP_BACKUP_PASSPHRASE = "a long passphrase"
    call_command("backup", str(tmp_path / "archive"))
    monkeypatch.setenv("OTHER_PASSPHRASE", "another passphrase")
    with pytest.raises(CommandError, match="wrong passphrase"):
        call_command("restore", str(tmp_path / "archive"), passphrase_env="OTHER_PASSPHRASE")
    settings.MAILAPP_BACKUP_PASSPHRASE = ""
    with pytest.raises(CommandError, match="give --key-file"):
        call_command("restore", str(tmp_path / "archive"))
    stored = b"".join(p.read_bytes() for p in (tmp_path / "archive").rglob("*") if p.is_file())
    assert b"Subject: original" not in stored and b"carol@example.net" not in stored  # sealed, not plain


def test_a_delivery_between_the_two_renames_of_a_restore_is_not_lost(db, home, store, key_file, tmp_path):
    from agents.store import snapshot

    store.mailbox("alice@example.com").deliver(message("in the backup"), "INBOX")
    archive = tmp_path / "archive"
    call_command("backup", str(archive), key_file=str(key_file))

    retire = snapshot.StagedMailbox._retire

    def retire_then_deliver(self, aside):  # type: ignore[no-untyped-def]
        moved = retire(self, aside)
        if not getattr(self, "delivered", False):  # a delivery lands in the window, once
            self.delivered = True
            Store(self.root).mailbox(self.address).deliver(message("in the window"), "INBOX")
        return moved

    snapshot.StagedMailbox._retire = retire_then_deliver  # type: ignore[method-assign]
    try:
        call_command("restore", str(archive), key_file=str(key_file), mailbox="alice@example.com")
    finally:
        snapshot.StagedMailbox._retire = retire  # type: ignore[method-assign]

    assert contents(store, "alice@example.com") == [message("in the backup"), message("in the window")]
