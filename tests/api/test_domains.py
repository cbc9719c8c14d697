"""Domains: create (with postmaster@/abuse@), read by id or name, change, delete keeping mail."""

from __future__ import annotations

from agents import store
from webadmin.models import Alias, Domain, Mailbox


def test_create_domain_answers_201_with_the_new_domain(api, db):
    response = api.post("/api/v1/domains/", {"name": "example.com"}, format="json")
    assert response.status_code == 201
    assert response.json()["name"] == "example.com"
    assert response.json()["id"] == Domain.objects.get(name="example.com").pk


def test_new_domain_without_postmaster_gets_admin_mailbox_without_password(api, db):
    api.post("/api/v1/domains/", {"name": "example.com"}, format="json")
    admin = Mailbox.objects.get(domain__name="example.com", local_part="admin")
    assert not admin.check_password("")
    assert Alias.objects.get(domain__name="example.com", local_part="postmaster").targets == ["admin@example.com"]
    assert Alias.objects.get(domain__name="example.com", local_part="abuse").targets == ["admin@example.com"]


def test_postmaster_may_point_at_another_domains_mailbox(api, make_mailbox):
    make_mailbox("hostmaster@example.net")
    response = api.post(
        "/api/v1/domains/", {"name": "example.com", "postmaster": "hostmaster@example.net"}, format="json"
    )
    assert response.status_code == 201
    assert Alias.objects.get(domain__name="example.com", local_part="postmaster").targets == ["hostmaster@example.net"]
    assert not Mailbox.objects.filter(domain__name="example.com").exists()


def test_unicode_domain_is_stored_in_ascii_and_found_by_either_name(api, db):
    response = api.post("/api/v1/domains/", {"name": "bücher.example"}, format="json")
    assert response.json()["name"] == "xn--bcher-kva.example"
    assert response.json()["display_name"] == "bücher.example"
    assert api.get("/api/v1/domains/bücher.example/").json()["name"] == "xn--bcher-kva.example"
    assert api.get("/api/v1/domains/xn--bcher-kva.example/").status_code == 200


def test_get_domain_by_id_and_by_name(api, example_com):
    assert api.get(f"/api/v1/domains/{example_com.pk}/").json()["name"] == "example.com"
    assert api.get("/api/v1/domains/EXAMPLE.com/").json()["id"] == example_com.pk


def test_patch_changes_only_the_given_fields(api, example_com):
    response = api.patch("/api/v1/domains/example.com/", {"description": "Example Inc."}, format="json")
    assert response.status_code == 200
    example_com.refresh_from_db()
    assert (example_com.description, example_com.active) == ("Example Inc.", True)


def test_put_replaces_the_writable_fields(api, example_com):
    body = {"name": "example.com", "active": False, "description": "", "default_quota": 1000, "max_mailboxes": 5}
    response = api.put("/api/v1/domains/example.com/", body, format="json")
    assert response.status_code == 200
    example_com.refresh_from_db()
    assert (example_com.active, example_com.default_quota, example_com.max_mailboxes) == (False, 1000, 5)


def test_a_domain_cannot_be_renamed(api, example_com):
    response = api.patch("/api/v1/domains/example.com/", {"name": "example.info"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert Domain.objects.filter(name="example.com").exists()


def test_delete_domain_answers_204_and_keeps_its_mail(api, example_com, settings, django_capture_on_commit_callbacks):
    store.default_store().mailbox("alice@example.com").deliver(b"Subject: keep me\r\n\r\nhello\r\n")
    with django_capture_on_commit_callbacks(execute=True):  # the mail moves once the deletion commits
        response = api.delete("/api/v1/domains/example.com/")
    assert response.status_code == 204
    assert not Domain.objects.filter(name="example.com").exists()
    kept = list((settings.MAILAPP_ARCHIVE_DIR / "example.com").iterdir())
    assert any(path.name.startswith("alice-") for path in kept)


def test_delete_domain_with_mail_archive_makes_tarballs(api, example_com, settings, django_capture_on_commit_callbacks):
    store.default_store().mailbox("alice@example.com").deliver(b"Subject: keep me\r\n\r\nhello\r\n")
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete("/api/v1/domains/example.com/?mail=archive").status_code == 204
    kept = [path.name for path in (settings.MAILAPP_ARCHIVE_DIR / "example.com").iterdir()]
    assert any(name.startswith("alice-") and name.endswith(".tar.gz") for name in kept)


def test_delete_with_an_unknown_mail_mode_deletes_nothing(api, example_com):
    response = api.delete("/api/v1/domains/example.com/?mail=destroy")
    assert response.status_code == 400
    assert Domain.objects.filter(name="example.com").exists()
