"""Keys and policies in the admin, and the dashboard's DNS page showing and checking the DKIM record."""

from __future__ import annotations

from django.contrib.auth.models import User

from webadmin import dkimkeys
from webadmin.dashboard import dnscheck
from webadmin.models import DkimKey, MailPolicy


def test_dns_page_expects_and_finds_the_published_key(example_com, dns, settings):
    key = dkimkeys.create_key(example_com)
    dns.zones[f"{key.selector}._domainkey.example.com"] = {"TXT": [key.dns_value()]}
    results = {r.expected.kind: r for r in dnscheck.check_domain("example.com")}
    assert results["DKIM"].expected.name == f"{key.selector}._domainkey.example.com"
    assert results["DKIM"].ok is True


def test_dns_page_notices_a_stale_published_key(example_com, dns):
    old = dkimkeys.create_key(example_com)
    dns.zones[f"{old.selector}._domainkey.example.com"] = {"TXT": [old.dns_value()]}
    new = dkimkeys.create_key(example_com, rotate=True)
    dns.zones[f"{new.selector}._domainkey.example.com"] = {"TXT": [old.dns_value()]}
    results = {r.expected.kind: r for r in dnscheck.check_domain("example.com")}
    assert results["DKIM"].ok is False


def _admin(client):
    User.objects.create_superuser("root", "root@example.com", "pw-for-tests-1234")
    client.login(username="root", password="pw-for-tests-1234")
    session = client.session
    session["otp_verified"] = True  # harmless when the dashboard does not ask for TOTP
    session.save()
    return client


def test_admin_action_generates_a_key(client, example_com):
    _admin(client)
    response = client.post("/admin/webadmin/domain/", {"action": "generate_dkim_key",
                                                       "_selected_action": [example_com.pk]}, follow=True)
    assert response.status_code == 200
    key = DkimKey.objects.get(domain=example_com)
    assert key.algorithm == "rsa" and key.public_key


def test_admin_pages_for_policies_keys_and_greylisting(client, example_com):
    _admin(client)
    dkimkeys.create_key(example_com)
    MailPolicy.objects.create(domain=example_com, greylisting=True)
    for url in ("/admin/webadmin/dkimkey/", "/admin/webadmin/mailpolicy/", "/admin/webadmin/greylistwhitelist/",
                "/admin/agents/greylisttriplet/", "/admin/agents/ratecounter/", "/admin/agents/spamtraining/"):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/admin/webadmin/dkimkey/{DkimKey.objects.get().pk}/change/").content.decode()
    assert "v=DKIM1; k=rsa; p=" in page and "PRIVATE KEY" not in page
