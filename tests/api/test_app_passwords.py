"""/api/v1/mailboxes/{id}/app-passwords/: create (secret once), list (never the secret), revoke; scoped."""

from __future__ import annotations

from agents import config
from webadmin.models import AppPassword, Mailbox


def test_create_list_and_revoke(api, example_com, settings):
    settings.MAILAPP_CONFIG_REFRESH = 0
    made = api.post("/api/v1/mailboxes/alice@example.com/app-passwords/",
                    {"name": "Thunderbird", "scopes": ["imap", "smtp"]}, format="json")
    assert made.status_code == 201, made.content
    secret = made.json()["password"]
    assert made.json()["scopes"] == ["imap", "smtp"] and made.json()["name"] == "Thunderbird"
    assert config.authenticate("alice@example.com", secret, "imap")

    listed = api.get("/api/v1/mailboxes/alice@example.com/app-passwords/")
    assert listed.status_code == 200
    assert [row["name"] for row in listed.json()] == ["Thunderbird"]
    assert secret not in listed.content.decode() and "password" not in listed.json()[0]
    assert "digest" not in listed.json()[0]

    app_id = made.json()["id"]
    gone = api.delete(f"/api/v1/mailboxes/alice@example.com/app-passwords/{app_id}/")
    assert gone.status_code == 204
    assert not AppPassword.objects.exists()
    assert config.authenticate("alice@example.com", secret, "imap") is None
    assert api.delete(f"/api/v1/mailboxes/alice@example.com/app-passwords/{app_id}/").status_code == 404


def test_bad_input_answers_400(api, example_com):
    url = "/api/v1/mailboxes/alice@example.com/app-passwords/"
    assert api.post(url, {"name": "x", "scopes": ["webmail"]}, format="json").status_code == 400
    assert api.post(url, {"name": "x", "scopes": []}, format="json").status_code == 400
    assert api.post(url, {"scopes": ["imap"]}, format="json").status_code == 400
    assert api.post(url, {"name": "  ", "scopes": ["imap"]}, format="json").status_code == 400
    assert not AppPassword.objects.exists()


def test_a_domain_admin_reaches_only_its_domains_app_passwords(dana, api, example_com, example_net):
    carol = Mailbox.objects.get(local_part="carol")
    row, _secret = AppPassword.issue(carol, "Carol's phone", ["pop3"])
    assert dana.get(f"/api/v1/mailboxes/{carol.pk}/app-passwords/").status_code == 404
    assert dana.post(f"/api/v1/mailboxes/{carol.pk}/app-passwords/", {"name": "x", "scopes": ["imap"]},
                     format="json").status_code == 404
    assert dana.delete(f"/api/v1/mailboxes/{carol.pk}/app-passwords/{row.pk}/").status_code == 404
    # Another mailbox's app password through one's own mailbox's URL is not found either.
    alice = Mailbox.objects.get(local_part="alice")
    assert dana.delete(f"/api/v1/mailboxes/{alice.pk}/app-passwords/{row.pk}/").status_code == 404
    assert AppPassword.objects.filter(pk=row.pk).exists()
    made = dana.post(f"/api/v1/mailboxes/{alice.pk}/app-passwords/", {"name": "x", "scopes": ["imap"]}, format="json")
    assert made.status_code == 201
    assert [r["name"] for r in api.get(f"/api/v1/mailboxes/{carol.pk}/app-passwords/").json()] == ["Carol's phone"]


def test_the_schema_documents_the_routes(api):
    schema = api.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/mailboxes/{id}/app-passwords/"])
    assert "delete" in paths["/api/v1/mailboxes/{id}/app-passwords/{app_id}/"]
    created = paths["/api/v1/mailboxes/{id}/app-passwords/"]["post"]["responses"]["201"]
    ref = created["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "password" in schema["components"]["schemas"][ref]["properties"]
