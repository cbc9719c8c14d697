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


def test_source_validation_refuses_bad_hosts_ports_and_intervals(example_com):
    import pytest
    from django.core.exceptions import ValidationError

    from webadmin.models import ExternalSource

    alice = example_com.mailboxes.get(local_part="alice")
    for bad in ({"host": "mail/x"}, {"host": " "}, {"port": 70000}, {"interval": 5}):
        fields = {"host": "pop.example.net", "login": "a", "interval": 300, **bad}
        with pytest.raises(ValidationError):
            ExternalSource(mailbox=alice, **fields).full_clean()
    ok = ExternalSource(mailbox=alice, host=" POP.Example.NET ", login="a", protocol="pop3")
    ok.full_clean()
    assert ok.host == "pop.example.net" and ok.effective_port() == 995


def test_a_domain_admin_sees_only_their_domains_sources(make_domain, make_mailbox, example_com, django_user_model):
    from webadmin.models import DomainAdmin, ExternalSource

    other = make_domain("other.test")
    carol = make_mailbox("carol@other.test")
    alice = example_com.mailboxes.get(local_part="alice")
    for box, host in ((alice, "alice-pop.example.net"), (carol, "carol-pop.example.net")):
        ExternalSource.objects.create(mailbox=box, host=host, login="x")
    staff = django_user_model.objects.create_user("dadmin", password="pw", is_staff=True)
    DomainAdmin.objects.create(user=staff).domains.add(other)
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/webadmin/externalsource/").content.decode()
    assert "carol-pop.example.net" in page and "alice-pop.example.net" not in page
