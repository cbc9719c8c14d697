"""retire_mailbox moves mail out of the live tree: kept as a directory, or archived as .tar.gz."""

from __future__ import annotations

import tarfile

import pytest

from agents.store import Store, retire_mailbox

from .conftest import message


@pytest.fixture
def roots(settings, tmp_path):
    settings.MAILAPP_MAIL_ROOT = tmp_path / "mail"
    settings.MAILAPP_ARCHIVE_DIR = tmp_path / "archive"
    return settings.MAILAPP_MAIL_ROOT, settings.MAILAPP_ARCHIVE_DIR


def test_keep_moves_the_maildir_aside(roots):
    mail, archive = roots
    Store(mail).mailbox("alice@example.com").deliver(message("old"))
    place = retire_mailbox("alice@example.com", "keep")
    assert place.parent == archive / "example.com" and place.name.startswith("alice-")
    assert (place / "new").is_dir() and not (mail / "example.com" / "alice").exists()
    assert Store(mail).mailbox("alice@example.com").folder("INBOX").exists == 0


def test_archive_writes_a_tarball_and_removes_the_directory(roots):
    mail, archive = roots
    Store(mail).mailbox("alice@example.com").deliver(message("old"))
    place = retire_mailbox("alice@example.com", "archive")
    assert place.name.endswith(".tar.gz") and place.is_file()
    with tarfile.open(place) as tar:
        assert any("/new/" in name for name in tar.getnames())
    assert not (mail / "example.com" / "alice").exists()


def test_mailbox_without_directory_returns_the_would_be_path(roots):
    _, archive = roots
    place = retire_mailbox("nobody@example.com", "keep")
    assert place.parent == archive / "example.com" and not place.exists()


def test_two_retirements_in_one_second_do_not_collide(roots):
    mail, _ = roots
    Store(mail).mailbox("alice@example.com")
    first = retire_mailbox("alice@example.com", "keep")
    Store(mail).mailbox("alice@example.com")
    second = retire_mailbox("alice@example.com", "keep")
    assert first != second and first.exists() and second.exists()


def test_unknown_mode_is_refused(roots):
    with pytest.raises(ValueError):
        retire_mailbox("alice@example.com", "shred")  # type: ignore[arg-type]


def test_a_process_that_knew_the_old_mailbox_uses_the_new_one(roots):
    mail, _ = roots
    Store(mail).mailbox("alice@example.com").deliver(message("old"))
    import shutil

    shutil.move(str(mail / "example.com" / "alice"), str(roots[1]))  # as another process's retire would
    assert Store(mail).mailbox("alice@example.com").folder("INBOX").exists == 0


def test_removing_a_mailbox_moves_its_mail_once_the_deletion_commits(roots, make_mailbox,
                                                                     django_capture_on_commit_callbacks):
    from webadmin import services

    mail, archive = roots
    mailbox = make_mailbox("carol@example.com")
    Store(mail).mailbox("carol@example.com").deliver(message("before removal"))
    with django_capture_on_commit_callbacks() as callbacks:
        services.remove_mailbox(mailbox, "archive")
    assert (mail / "example.com" / "carol").is_dir()  # not before the commit: a rollback keeps it live
    for callback in callbacks:
        callback()
    places = list((archive / "example.com").iterdir())
    assert [p.name.startswith("carol-") and p.name.endswith(".tar.gz") for p in places] == [True]
    assert not (mail / "example.com" / "carol").exists()


def test_a_rolled_back_removal_leaves_the_mail_in_place(roots, make_mailbox):
    from django.db import transaction

    from webadmin import services
    from webadmin.models import Mailbox

    mail, archive = roots
    mailbox = make_mailbox("dave@example.com")
    Store(mail).mailbox("dave@example.com").deliver(message("still here"))
    with pytest.raises(RuntimeError), transaction.atomic():
        services.remove_mailbox(mailbox, "keep")
        raise RuntimeError("the admin's request failed after the delete")
    assert Mailbox.objects.filter(local_part="dave").exists()
    assert Store(mail).mailbox("dave@example.com").folder("INBOX").exists == 1
    assert not archive.exists()
