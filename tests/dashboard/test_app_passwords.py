"""The dashboard's mailbox page: an admin creates and revokes a mailbox's app passwords, within its domains."""

from __future__ import annotations

import re

from django.test import Client

from agents import config
from tests.dashboard.conftest import STAFF_PASSWORD
from webadmin.models import AppPassword, Mailbox


def strict_client(username: str) -> Client:
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=username, password=STAFF_PASSWORD)
    return client


def post(client: Client, url: str, data: dict):  # noqa: ANN201
    client.get(url)
    return client.post(url, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


def test_an_admin_creates_and_revokes_an_app_password(superuser, example_com, settings):
    settings.MAILAPP_CONFIG_REFRESH = 0
    client = strict_client("root")
    url = "/dashboard/domains/example.com/mailboxes/alice/"
    assert url.encode() in client.get("/dashboard/domains/example.com/").content
    made = post(client, url, {"what": "app_password", "name": "Front desk PC", "scopes": ["pop3"]})
    assert made.status_code == 200 and made["Cache-Control"] == "private, no-store"
    secret = re.search(rb'id="new-app-password" class="mono" readonly value="([a-z0-9-]+)"', made.content).group(1)
    assert config.authenticate("alice@example.com", secret.decode(), "pop3")
    page = client.get(url)
    assert b"Front desk PC" in page.content and secret not in page.content
    row = AppPassword.objects.get()
    post(client, url, {"what": "app_password_revoke", "id": str(row.pk)})
    assert not AppPassword.objects.exists()
    assert config.authenticate("alice@example.com", secret.decode(), "pop3") is None


def test_the_form_needs_the_csrf_token(superuser, example_com):
    client = strict_client("root")
    response = client.post("/dashboard/domains/example.com/mailboxes/alice/",
                           {"what": "app_password", "name": "x", "scopes": ["imap"]})
    assert response.status_code == 403 and not AppPassword.objects.exists()


def test_a_domain_admin_sees_only_its_domains_mailboxes(make_domain_admin, example_com, make_mailbox):
    make_domain_admin("dana", "example.com")
    carol = make_mailbox("carol@example.net")
    AppPassword.issue(carol, "Carol's phone", ["imap"])
    client = strict_client("dana")
    assert client.get("/dashboard/domains/example.net/mailboxes/carol/").status_code == 404
    refused = post(client, "/dashboard/domains/example.com/mailboxes/alice/",
                   {"what": "app_password_revoke", "id": str(AppPassword.objects.get().pk)})
    assert refused.status_code == 302 and AppPassword.objects.filter(mailbox=carol).exists()
    assert client.get("/dashboard/domains/example.com/mailboxes/alice/").status_code == 200
    assert not Mailbox.objects.get(local_part="alice").app_passwords.exists()
