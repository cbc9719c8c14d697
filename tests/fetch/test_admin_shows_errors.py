"""The admin lists each source with its last success and last error."""

from __future__ import annotations

from django.test import Client

from agents.fetch.engine import poll


def test_admin_list_shows_the_last_error(make_source, admin_user):
    source = make_source("imap", password="wrong")
    poll(source.pk)
    client = Client()
    client.force_login(admin_user)
    page = client.get("/admin/webadmin/externalsource/").content.decode()
    assert "login as remote refused" in page and "never" in page


def test_admin_form_stores_the_password_encrypted(example_com, admin_user):
    from webadmin.models import ExternalSource

    client = Client()
    client.force_login(admin_user)
    alice = example_com.mailboxes.get(local_part="alice")
    response = client.post("/admin/webadmin/externalsource/add/", {
        "mailbox": alice.pk, "protocol": "pop3", "host": "pop.example.net", "port": 0, "tls": "tls",
        "verify_certificate": "on", "login": "alice", "new_password": "pw-123", "folder": "INBOX", "keep": "on",
        "interval": 300, "active": "on"})
    assert response.status_code == 302
    source = ExternalSource.objects.get()
    assert source.get_password() == "pw-123" and "pw-123" not in source.password_encrypted
