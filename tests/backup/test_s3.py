"""Backups to an S3-compatible store: a real S3 server (moto in server mode) on loopback, reached with boto3."""

from __future__ import annotations

import shutil

import pytest
from django.core.management import CommandError, call_command

from agents.backup import BackupError, Repository, S3Location, S3Target, backup, restore
from agents.store import Store

from .conftest import message, s3_client, s3_keys


def open_s3(location: S3Location, key_file, tmp_path, create: bool = False) -> Repository:  # type: ignore[no-untyped-def]
    return Repository.open(S3Target(location, tmp_path / "run"), key_file=key_file, create=create)


def contents(store: Store, address: str, folder: str = "INBOX") -> list[bytes]:
    box = store.mailbox(address).folder(folder)
    return [box.read(uid) for uid in box.uids()]


def chunk_ids(repo: Repository, name: str) -> set[str]:
    return {c for e in repo.load_manifest(name)[1]["entries"] for c in e["chunks"]}


def test_backup_to_s3_and_restore_into_a_fresh_home(db, home, store, key_file, tmp_path, settings, s3_location):
    for n in range(5):
        store.mailbox("alice@example.com").deliver(message(f"alice {n}"), "INBOX")
    store.mailbox("bob@example.org").deliver(message("bob draft"), "Drafts")
    (home / "tls" / "key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nsecret\n")

    result = backup(open_s3(s3_location, key_file, tmp_path, create=True))

    keys = s3_keys(s3_location)
    ours = [k for k in keys if k.startswith("mail/appliance/")]
    assert "mail/appliance/repo.json" in keys and f"mail/appliance/manifests/{result['name']}" in keys
    assert sum(k.startswith("mail/appliance/chunks/") for k in ours) == result["uploaded"] > 6
    assert "someone-else/file" in keys  # nothing outside the prefix is touched
    body = b"".join(s3_client(s3_location).get_object(Bucket=s3_location.bucket, Key=k)["Body"].read() for k in ours)
    assert b"Subject: alice" not in body and b"PRIVATE KEY" not in body  # sealed before it leaves

    fresh = tmp_path / "fresh"  # another machine: empty mail root, spool and TLS directory
    settings.MAILAPP_MAIL_ROOT = fresh / "mail"
    settings.MAILAPP_SPOOL_DIR = fresh / "spool"
    settings.MAILAPP_TLS_DIR = fresh / "tls"
    settings.MAILAPP_ARCHIVE_DIR = fresh / "archive"
    restored = restore(open_s3(s3_location, key_file, tmp_path), domain="example.com")
    restore(open_s3(s3_location, key_file, tmp_path), mailbox="bob@example.org")

    assert restored["mailboxes"] == 1 and restored["replaced"] == {}
    again = Store(fresh / "mail")
    assert contents(again, "alice@example.com") == contents(store, "alice@example.com")
    assert contents(again, "bob@example.org", "Drafts") == [message("bob draft")]
    assert again.mailbox("alice@example.com").folder("INBOX").uidvalidity == \
        store.mailbox("alice@example.com").folder("INBOX").uidvalidity


def test_a_second_backup_uploads_only_the_changed_chunks(db, home, store, key_file, tmp_path, s3_location):
    inbox = store.mailbox("alice@example.com")
    for n in range(20):
        inbox.deliver(message(f"m {n}", "x" * 2000 + "\r\n"), "INBOX")
    first = backup(open_s3(s3_location, key_file, tmp_path, create=True))
    before = s3_keys(s3_location)

    inbox.deliver(message("the new one"), "INBOX")
    repo = open_s3(s3_location, key_file, tmp_path)
    second = backup(repo)

    after = s3_keys(s3_location)
    new_chunks = {k.rsplit("/", 1)[-1] for k in set(after) - set(before) if "/chunks/" in k}
    assert new_chunks == chunk_ids(repo, second["name"]) - chunk_ids(repo, first["name"])
    assert second["uploaded"] == len(new_chunks)  # nothing uploaded twice
    assert all(after[k] == etag for k, etag in before.items())  # no object rewritten
    message_chunks = {e["chunks"][0] for e in repo.load_manifest(second["name"])[1]["entries"] if e.get("key")}
    assert len(new_chunks & message_chunks) == 1  # of 21 messages, only the new one went up

    third = backup(open_s3(s3_location, key_file, tmp_path))  # nothing changed
    assert not (chunk_ids(repo, third["name"]) - chunk_ids(repo, second["name"])) & message_chunks
    assert third["uploaded"] <= 1  # at most the database copy (pg_dump stamps its dump)


def test_a_tampered_or_missing_object_is_refused_and_nothing_live_changes(db, home, store, key_file, tmp_path,
                                                                          s3_location):
    store.mailbox("alice@example.com").deliver(message("original", "y" * 5000 + "\r\n"), "INBOX")
    result = backup(open_s3(s3_location, key_file, tmp_path, create=True))
    store.mailbox("alice@example.com").deliver(message("newer"), "INBOX")
    client = s3_client(s3_location)
    repo = open_s3(s3_location, key_file, tmp_path)
    entry = next(e for e in repo.load_manifest()[1]["entries"] if e.get("key"))
    key = f"mail/appliance/chunks/{entry['chunks'][0][:2]}/{entry['chunks'][0]}"
    blob = bytearray(client.get_object(Bucket=s3_location.bucket, Key=key)["Body"].read())
    blob[len(blob) // 2] ^= 0x01
    client.put_object(Bucket=s3_location.bucket, Key=key, Body=bytes(blob))

    with pytest.raises(BackupError, match="damaged or was tampered with"):
        restore(open_s3(s3_location, key_file, tmp_path), mailbox="alice@example.com")
    assert contents(store, "alice@example.com") == [message("original", "y" * 5000 + "\r\n"), message("newer")]

    client.delete_object(Bucket=s3_location.bucket, Key=key)
    with pytest.raises(BackupError, match="missing"):
        restore(open_s3(s3_location, key_file, tmp_path), mailbox="alice@example.com")
    manifest = f"mail/appliance/manifests/{result['name']}"
    sealed = client.get_object(Bucket=s3_location.bucket, Key=manifest)["Body"].read()
    client.put_object(Bucket=s3_location.bucket, Key="mail/appliance/manifests/29990101T000000.000000Z", Body=sealed)
    with pytest.raises(BackupError, match="tampered"):  # a manifest under another name fails authentication
        restore(open_s3(s3_location, key_file, tmp_path))
    assert contents(store, "alice@example.com")[-1] == message("newer")


def test_retention_on_s3_removes_only_unused_objects_in_the_prefix(db, home, store, key_file, tmp_path, s3_location):
    inbox = store.mailbox("alice@example.com")
    inbox.deliver(message("first"), "INBOX")
    names = [backup(open_s3(s3_location, key_file, tmp_path, create=True))["name"]]
    folder = inbox.folder("INBOX")
    folder.expunge(folder.uids(), deleted_only=False)
    inbox.deliver(message("second"), "INBOX")
    names.append(backup(open_s3(s3_location, key_file, tmp_path))["name"])

    repo = open_s3(s3_location, key_file, tmp_path)
    assert repo.prune(1)[0] == 1
    keys = s3_keys(s3_location)
    stored = {k.rsplit("/", 1)[-1] for k in keys if "/chunks/" in k}
    assert stored == chunk_ids(repo, names[1]) and "someone-else/file" in keys
    shutil.rmtree(home / "mail")
    restore(open_s3(s3_location, key_file, tmp_path), mailbox="alice@example.com")
    assert contents(store, "alice@example.com") == [message("second")]


def test_an_unreachable_bucket_is_a_clear_error(db, home, store, key_file, tmp_path, s3_location):
    missing = S3Location(**{**s3_location.__dict__, "bucket": "no-such-bucket"})
    with pytest.raises(BackupError, match="no-such-bucket.*NoSuchBucket"):
        backup(open_s3(missing, key_file, tmp_path, create=True))


def test_the_command_line_backs_up_to_an_s3_url(db, home, store, key_file, tmp_path, settings, s3_location,
                                                monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_location.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_location.secret_key)
    settings.MAILAPP_RUN_DIR = tmp_path / "run"
    store.mailbox("alice@example.com").deliver(message("by the command"), "INBOX")
    url = f"s3://{s3_location.bucket}/cli"
    call_command("backup", url, key_file=str(key_file), s3_endpoint=s3_location.endpoint, s3_region="us-east-1")
    shutil.rmtree(home / "mail")
    call_command("restore", url, key_file=str(key_file), s3_endpoint=s3_location.endpoint, s3_region="us-east-1",
                 mailbox="alice@example.com")
    assert contents(store, "alice@example.com") == [message("by the command")]
    with pytest.raises(CommandError, match="holds no backup"):
        call_command("restore", f"s3://{s3_location.bucket}/elsewhere", key_file=str(key_file),
                     s3_endpoint=s3_location.endpoint, s3_region="us-east-1")


def test_a_message_larger_than_a_chunk_goes_up_in_pieces_and_comes_back_whole(db, home, store, key_file, tmp_path,
                                                                               s3_location, monkeypatch):
    import base64
    import os

    from agents.backup import targets

    monkeypatch.setattr(targets, "PENDING_BYTES", 5 * 1024 * 1024)  # uploads wait for room: the bound is used
    attachment = base64.encodebytes(os.urandom(7 * 1024 * 1024)).replace(b"\n", b"\r\n").decode()
    big = message("big one", attachment)
    store.mailbox("alice@example.com").deliver(big, "INBOX")
    result = backup(open_s3(s3_location, key_file, tmp_path, create=True))
    repo = open_s3(s3_location, key_file, tmp_path)
    entry = next(e for e in repo.load_manifest(result["name"])[1]["entries"] if e.get("key"))
    assert len(entry["chunks"]) == 3 and entry["size"] == len(big)  # 4 MiB pieces

    shutil.rmtree(home / "mail")
    restore(repo, mailbox="alice@example.com")
    assert contents(store, "alice@example.com") == [big]
