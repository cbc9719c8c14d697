"""The Django admin: domain admins see and change only their domains."""

import pytest
from django.contrib.auth.models import User

from webadmin import services
from webadmin.models import Alias, Domain, DomainAdmin, Mailbox


@pytest.fixture
def two_domains(example_com, make_domain, make_mailbox):
    make_domain("other.example")
    make_mailbox("eve@other.example")
    return example_com, Domain.objects.get(name="other.example")


@pytest.fixture
def domain_admin_client(client, two_domains):
    user = User.objects.create_user("dana", password="pw-dana-123", is_staff=True)
    role = DomainAdmin.objects.create(user=user)
    role.domains.add(two_domains[0])
    client.force_login(user)
    return client


def test_a_domain_admin_lists_only_their_domains_mailboxes(domain_admin_client):
    page = domain_admin_client.get("/admin/webadmin/mailbox/").content.decode()
    assert "alice@example.com" in page
    assert "eve@other.example" not in page


def test_a_domain_admin_cannot_open_another_domains_mailbox(domain_admin_client):
    eve = Mailbox.objects.get(local_part="eve")
    response = domain_admin_client.get(f"/admin/webadmin/mailbox/{eve.pk}/change/")
    assert response.status_code in (302, 403, 404)
    response = domain_admin_client.post(f"/admin/webadmin/mailbox/{eve.pk}/change/", {"name": "pwned"})
    assert Mailbox.objects.get(pk=eve.pk).name != "pwned"


def test_a_domain_admin_cannot_add_a_mailbox_to_another_domain(domain_admin_client, two_domains):
    response = domain_admin_client.post("/admin/webadmin/mailbox/add/", {
        "domain": two_domains[1].pk, "local_part": "intruder", "new_password": "pw-12345",
        "active": "on", "filters-TOTAL_FORMS": "0", "filters-INITIAL_FORMS": "0",
    })
    assert response.status_code == 200  # the form comes back with an error
    assert "Select a valid choice" in response.content.decode()
    assert not Mailbox.objects.filter(local_part="intruder").exists()


def test_a_domain_admin_cannot_create_domains_or_hand_out_roles(domain_admin_client):
    assert domain_admin_client.get("/admin/webadmin/domain/add/").status_code == 403
    assert domain_admin_client.get("/admin/webadmin/domainadmin/").status_code == 403


def test_superadmin_adds_a_domain_with_its_postmaster(admin_client):
    response = admin_client.post("/admin/webadmin/domain/add/", {
        "name": "new.example", "description": "", "active": "on", "default_quota_0": "1", "default_quota_1": "GiB",
        "max_mailboxes": "0", "postmaster": "boss@new.example",
        "aliases-TOTAL_FORMS": "0", "aliases-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Alias.objects.get(domain__name="new.example", local_part="postmaster").targets == ["boss@new.example"]
    assert Mailbox.objects.filter(domain__name="new.example", local_part="boss").exists()
    assert Domain.objects.get(name="new.example").default_quota == 1024**3


def test_invalid_input_in_the_admin_gets_readable_errors(admin_client, example_com):
    response = admin_client.post("/admin/webadmin/alias/add/", {
        "domain": example_com.pk, "local_part": "loop", "targets": "loop@example.com", "active": "on",
    })
    assert "These targets make a loop" in response.content.decode()
    response = admin_client.post("/admin/webadmin/mailbox/add/", {
        "domain": example_com.pk, "local_part": "alice", "new_password": "pw-12345", "active": "on",
        "filters-TOTAL_FORMS": "0", "filters-INITIAL_FORMS": "0",
    })
    assert "already exists" in response.content.decode()


def test_a_mailbox_password_set_in_the_admin_is_hashed(admin_client, example_com):
    response = admin_client.post("/admin/webadmin/mailbox/add/", {
        "domain": example_com.pk, "local_part": "carol", "new_password": "carol-pw-1", "active": "on",
        "can_imap": "on", "filters-TOTAL_FORMS": "0", "filters-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302
    carol = Mailbox.objects.get(local_part="carol")
    assert carol.check_password("carol-pw-1") and "carol-pw-1" not in carol.password


def test_deleting_a_mailbox_in_the_admin_keeps_its_mail(admin_client, example_com, settings,
                                                         django_capture_on_commit_callbacks):
    from agents.store import default_store

    default_store().mailbox("alice@example.com").deliver(b"Subject: keep me\r\n\r\nhello\r\n")
    alice = Mailbox.objects.get(local_part="alice")
    # The admin's Delete goes to the dashboard's confirmation page, which counts what goes.
    confirm = admin_client.get(f"/admin/webadmin/mailbox/{alice.pk}/delete/", follow=True)
    assert confirm.redirect_chain[-1][0] == "/dashboard/mailboxes/delete/?address=alice%40example.com"
    assert 'data-count="messages">1<' in confirm.content.decode()
    assert Mailbox.objects.filter(local_part="alice").exists()
    archive = settings.MAILAPP_ARCHIVE_DIR / "example.com"
    before = set(archive.glob("alice-*"))  # other tests may have archived an alice@example.com too
    with django_capture_on_commit_callbacks(execute=True):  # the mail moves once the deletion commits
        response = admin_client.post("/dashboard/mailboxes/delete/", {"address": "alice@example.com", "mode": "keep"})
    assert response.status_code == 302
    assert not Mailbox.objects.filter(local_part="alice").exists()
    kept = list(set(archive.glob("alice-*")) - before)
    assert kept, "the mail was not kept"
    assert any(b"keep me" in p.read_bytes() for p in kept[0].rglob("*") if p.is_file() and "cur" in p.parts
               or p.parent.name == "new")
    assert services.managed_domains(User(is_staff=False)).count() == 0


def test_filters_show_in_words_in_the_admin_and_are_edited_with_the_rule_builder(admin_client, example_com):
    """No JSON for people: the admin lists a rule in words and links to the one rule builder."""
    from webadmin.models import Filter

    alice = Mailbox.objects.get(local_part="alice")
    rule = Filter.objects.create(mailbox=alice, name="invoices",
                                 conditions=[{"field": "subject", "op": "contains", "value": "invoice"}],
                                 actions=[{"action": "fileinto", "folder": "Bills"}])
    listing = admin_client.get("/admin/webadmin/filter/").content.decode()
    assert "Subject contains “invoice”" in listing and "Move to folder Bills" in listing
    assert "/admin/webadmin/filter/add/" not in listing
    change = admin_client.get(f"/admin/webadmin/filter/{rule.pk}/change/").content.decode()
    assert 'name="conditions"' not in change and 'name="actions"' not in change
    assert f"/dashboard/domains/example.com/mailboxes/alice/filters/{rule.pk}/" in change
    mailbox_page = admin_client.get(f"/admin/webadmin/mailbox/{alice.pk}/change/").content.decode()
    assert "Subject contains “invoice”" in mailbox_page and "filters-0-conditions" not in mailbox_page


def test_a_domain_admin_cannot_lift_their_domains_limits(domain_admin_client, two_domains):
    domain = two_domains[0]
    response = domain_admin_client.post(f"/admin/webadmin/domain/{domain.pk}/change/", {
        "description": "ours", "active": "on", "max_mailboxes": "9999", "default_quota": "0",
        "aliases-TOTAL_FORMS": "2", "aliases-INITIAL_FORMS": "0",
    })
    domain.refresh_from_db()
    assert response.status_code == 302
    assert domain.description == "ours"
    assert (domain.max_mailboxes, domain.default_quota) == (0, 1024**3)
