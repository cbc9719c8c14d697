"""Mailboxes: create with a write-only password, quota and usage, change, delete keeping mail."""

from __future__ import annotations

import pytest

from agents import config, store
from tests.conftest import PASSWORD
from webadmin.models import Mailbox


def test_create_mailbox_answers_201_without_the_password(api, example_com):
    body = {"address": "carol@example.com", "password": PASSWORD, "name": "Carol", "quota": 5000, "can_pop3": False}
    response = api.post("/api/v1/mailboxes/", body, format="json")
    assert response.status_code == 201
    data = response.json()
    assert "password" not in data
    assert (data["address"], data["name"], data["quota"], data["can_pop3"]) == (
        "carol@example.com",
        "Carol",
        5000,
        False,
    )


def test_created_mailbox_logs_in_with_its_password(api, example_com):
    api.post("/api/v1/mailboxes/", {"address": "Carol@Example.com", "password": PASSWORD}, format="json")
    assert config.authenticate("carol@example.com", PASSWORD, "imap") is not None


def test_quota_null_means_the_domain_default(api, example_com):
    data = api.get("/api/v1/mailboxes/alice@example.com/").json()
    assert data["quota"] is None
    assert data["effective_quota"] == example_com.default_quota


def test_usage_reports_the_bytes_in_the_store(api, example_com):
    raw = b"Subject: hi\r\n\r\n" + b"x" * 5000 + b"\r\n"
    store.default_store().mailbox("alice@example.com").deliver(raw)
    usage = api.get("/api/v1/mailboxes/alice@example.com/").json()["usage"]
    assert usage >= 5000


def test_patch_password_changes_it_and_keeps_the_rest(api, example_com):
    response = api.patch("/api/v1/mailboxes/alice@example.com/", {"password": "a new secret"}, format="json")
    assert response.status_code == 200
    assert config.authenticate("alice@example.com", "a new secret", "imap") is not None
    assert Mailbox.objects.get(local_part="alice").name == "Alice Example"


def test_put_without_password_keeps_the_password(api, example_com):
    body = {
        "address": "alice@example.com",
        "name": "Alice",
        "quota": 0,
        "active": True,
        "can_smtp": True,
        "can_imap": True,
        "can_pop3": True,
        "can_webmail": False,
    }
    response = api.put("/api/v1/mailboxes/alice@example.com/", body, format="json")
    assert response.status_code == 200
    assert response.json()["can_webmail"] is False
    assert config.authenticate("alice@example.com", PASSWORD, "imap") is not None


def test_a_mailbox_address_cannot_be_changed(api, example_com):
    response = api.patch("/api/v1/mailboxes/alice@example.com/", {"address": "alicia@example.com"}, format="json")
    assert response.status_code == 400
    assert "address" in response.json()


def test_get_by_id_equals_get_by_address(api, example_com):
    alice = Mailbox.objects.get(local_part="alice")
    assert api.get(f"/api/v1/mailboxes/{alice.pk}/").json() == api.get("/api/v1/mailboxes/ALICE@example.com/").json()


def test_delete_mailbox_answers_204_and_keeps_the_mail(api, example_com, settings, django_capture_on_commit_callbacks):
    store.default_store().mailbox("alice@example.com").deliver(b"Subject: keep\r\n\r\nbody\r\n")
    with django_capture_on_commit_callbacks(execute=True):  # the mail moves once the deletion commits
        assert api.delete("/api/v1/mailboxes/alice@example.com/").status_code == 204
    assert not Mailbox.objects.filter(local_part="alice").exists()
    kept = [path.name for path in (settings.MAILAPP_ARCHIVE_DIR / "example.com").iterdir()]
    assert any(name.startswith("alice-") for name in kept)


def test_delete_mailbox_with_mail_archive(api, example_com, settings, django_capture_on_commit_callbacks):
    store.default_store().mailbox("alice@example.com").deliver(b"Subject: keep\r\n\r\nbody\r\n")
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete("/api/v1/mailboxes/alice@example.com/?mail=archive").status_code == 204
    kept = [path.name for path in (settings.MAILAPP_ARCHIVE_DIR / "example.com").iterdir()]
    assert any(name.endswith(".tar.gz") for name in kept)


def test_reading_a_mailbox_without_mail_reports_zero_and_creates_nothing(api, example_com):
    assert api.get("/api/v1/mailboxes/bob@example.com/").json()["usage"] == 0
    assert not store.default_store().path_for("bob@example.com").exists()


@pytest.mark.parametrize(("weak", "why"), [("1", "too short"), ("password123", "too common"),
                                           ("carol.example", "too similar")])
def test_weak_mailbox_passwords_are_refused_like_staff_passwords(api, example_com, weak, why):
    """Length, common passwords and similarity to the address: the staff rules, on create and on change."""
    created = api.post("/api/v1/mailboxes/", {"address": "carol@example.com", "password": weak}, format="json")
    similar = weak.replace("carol", "alice")
    changed = api.patch("/api/v1/mailboxes/alice@example.com/", {"password": similar}, format="json")
    assert created.status_code == changed.status_code == 400
    assert why in str(created.json()["password"]) and why in str(changed.json()["password"])
    assert not Mailbox.objects.filter(local_part="carol").exists()
    assert config.authenticate("alice@example.com", PASSWORD, "imap") is not None
