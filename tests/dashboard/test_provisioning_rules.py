"""Provisioning rules behind the dashboard pages: roles, scoping, deletes, setup link, quotas, passwords."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from agents.models import GreylistTriplet
from agents.store import default_store
from tests.conftest import PASSWORD
from tests.dashboard.conftest import STAFF_PASSWORD
from webadmin.models import Alias, Domain, Mailbox
from webadmin.units import GiB, MiB, format_bytes, parse_quota, split_quota


@pytest.fixture
def root(client, superuser) -> Client:
    client.login(username="root", password=STAFF_PASSWORD)
    return client


# --- 3. the domain admin role is enough -----------------------------------------------------


def test_giving_the_role_in_the_django_admin_is_enough_to_log_in(root, example_com, make_domain):
    make_domain("other.example")
    dana = User.objects.create_user("dana", password="dana's long pass 9")  # no "Staff status" ticked
    response = root.post("/admin/webadmin/domainadmin/add/", {"user": dana.pk, "domains": [example_com.pk]})
    assert response.status_code == 302, response.content.decode()[:2000]
    dana.refresh_from_db()
    assert dana.is_staff and not dana.is_superuser
    own = Client()
    login = own.post("/dashboard/login/", {"username": "dana", "password": "dana's long pass 9"})
    assert login.status_code == 302
    assert own.get("/dashboard/domains/example.com/").status_code == 200
    assert own.get("/dashboard/domains/other.example/").status_code == 404
    # The admin's mailbox list: "By domain" names only dana's domains.
    listing = own.get("/admin/webadmin/mailbox/").content.decode()
    assert "?domain=" in listing and "other.example" not in listing


def test_a_domain_admin_cannot_create_or_delete_domains(client, example_com, make_domain_admin):
    make_domain_admin("dana", "example.com")
    client.login(username="dana", password=STAFF_PASSWORD)
    assert client.get("/dashboard/domains/new/").status_code == 403
    assert client.post("/dashboard/domains/delete/", {"name": "example.com"}).status_code == 403
    assert Domain.objects.filter(name="example.com").exists()
    edit = client.post("/dashboard/domains/example.com/edit/", {
        "description": "ours", "active": "on", "default_quota_0": "0", "default_quota_1": "MiB", "max_mailboxes": "0",
    })
    assert edit.status_code == 302
    assert Domain.objects.get(name="example.com").default_quota == GiB  # a superadmin's limit stays


# --- 4. deletes are confirmed and counted ----------------------------------------------------


def test_the_domain_delete_confirmation_counts_what_goes(root, example_com, settings,
                                                         django_capture_on_commit_callbacks):
    store = default_store()
    store.mailbox("alice@example.com").deliver(b"Subject: one\r\n\r\n" + b"x" * 2000 + b"\r\n")
    store.mailbox("bob@example.com").deliver(b"Subject: two\r\n\r\nhello\r\n")
    page = root.get("/dashboard/domains/delete/", {"name": "example.com"}).content.decode()
    assert 'data-count="mailboxes">3<' in page  # admin@ (postmaster), alice@, bob@
    assert 'data-count="messages">2<' in page
    assert 'data-count="bytes">2.0 KiB<' in page
    assert str(settings.MAILAPP_ARCHIVE_DIR) in page
    assert Domain.objects.filter(name="example.com").exists()  # looking deletes nothing
    with django_capture_on_commit_callbacks(execute=True):  # the mail moves once the deletion commits
        done = root.post("/dashboard/domains/delete/", {"name": "example.com", "mode": "archive"})
    assert done.status_code == 302
    assert not Domain.objects.filter(name="example.com").exists()
    assert not Mailbox.objects.filter(domain__name="example.com").exists()
    archived = sorted(p.name for p in (Path(settings.MAILAPP_ARCHIVE_DIR) / "example.com").iterdir())
    assert [n.split("-")[0] for n in archived if n.endswith(".tar.gz")] == ["alice", "bob"]


def test_the_django_admins_domain_delete_button_and_list_action_confirm_first(root, example_com):
    # Today's dead end ("Cannot delete … protected related objects") becomes the confirmation page.
    page = root.get(f"/admin/webadmin/domain/{example_com.pk}/delete/", follow=True)
    assert page.redirect_chain[-1][0] == "/dashboard/domains/delete/?name=example.com"
    assert "protected" not in page.content.decode() and 'id="confirm-delete"' in page.content.decode()
    action = root.post("/admin/webadmin/domain/", {"action": "delete_confirmed", "_selected_action": [example_com.pk]})
    assert action.status_code == 302 and action["Location"] == "/dashboard/domains/delete/?name=example.com"
    assert "delete_selected" not in root.get("/admin/webadmin/domain/").content.decode()
    assert Domain.objects.filter(name="example.com").exists()


def test_an_alias_is_deleted_from_its_page_after_a_confirmation(root, example_com):
    team = Alias.objects.create(domain=example_com, local_part="team", targets=["alice@example.com"])
    asked = root.post(f"/dashboard/domains/example.com/aliases/{team.pk}/", {"delete": "1"})
    assert 'data-count="aliases">1<' in asked.content.decode() and "team@example.com" in asked.content.decode()
    assert Alias.objects.filter(pk=team.pk).exists()
    root.post(f"/dashboard/domains/example.com/aliases/{team.pk}/", {"delete": "1", "confirm": "1"})
    assert not Alias.objects.filter(pk=team.pk).exists()


def test_alias_targets_in_the_django_admins_domain_page_are_one_per_line(root, example_com):
    """Typing an address no longer gives "Enter a valid JSON."."""
    team = Alias.objects.create(domain=example_com, local_part="team", targets=["alice@example.com"])
    page = root.get(f"/admin/webadmin/domain/{example_com.pk}/change/").content.decode()
    assert "alice@example.com</textarea>" in page
    count = Alias.objects.filter(domain=example_com).count()
    rows = {f"aliases-{i}-{k}": v for i, a in enumerate(Alias.objects.filter(domain=example_com))
            for k, v in {"id": a.pk, "domain": example_com.pk, "local_part": a.local_part,
                         "targets": "\n".join(a.targets), "active": "on"}.items()}
    new = f"aliases-{count}-"
    rows.update({new + "local_part": "sales", new + "targets": "bob@example.com\nalice@example.com",
                 new + "active": "on", new + "domain": example_com.pk})
    response = root.post(f"/admin/webadmin/domain/{example_com.pk}/change/", {
        "description": "", "active": "on", "default_quota_0": "1", "default_quota_1": "GiB", "max_mailboxes": "0",
        "aliases-TOTAL_FORMS": str(count + 1), "aliases-INITIAL_FORMS": str(count), **rows,
    })
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Alias.objects.get(domain=example_com, local_part="sales").targets == ["bob@example.com", "alice@example.com"]
    team.refresh_from_db()
    assert team.targets == ["alice@example.com"]


# --- 2. engine tables are read-only; the first admin comes from a one-time link ----------------


def test_engine_tables_have_no_add_or_edit_form_in_the_admin(root):
    from django.utils import timezone

    row = GreylistTriplet.objects.create(client="192.0.2.1", sender="a@b.example", recipient="c@d.example",
                                         first_seen=timezone.now(), last_seen=timezone.now())
    for model in ("greylisttriplet", "ratecounter", "spamtraining", "loginlock"):
        assert root.get(f"/admin/agents/{model}/add/").status_code == 403, model
        assert f"/admin/agents/{model}/add/" not in root.get(f"/admin/agents/{model}/").content.decode()
    change = root.post(f"/admin/agents/greylisttriplet/{row.pk}/change/", {"client": "203.0.113.9"})
    assert change.status_code == 403
    assert GreylistTriplet.objects.get(pk=row.pk).client == "192.0.2.1"


def test_the_setup_link_makes_the_first_admin_once(db, client, settings):
    from agents.firststart import setup_token

    token = setup_token()
    assert token and (Path(settings.MAILAPP_HOME) / "setup-token").stat().st_mode & 0o077 == 0
    assert "No admin yet" in client.get("/dashboard/login/").content.decode()
    assert client.get("/dashboard/setup/wrong-token/").status_code == 403
    weak = client.post(f"/dashboard/setup/{token}/", {"username": "boss", "password": "boss"})
    assert weak.status_code == 400 and not User.objects.exists()
    made = client.post(f"/dashboard/setup/{token}/", {"username": "boss", "email": "", "password": "first admin pw 1"})
    assert made.status_code == 302
    assert User.objects.get(username="boss").is_superuser
    assert client.get("/dashboard/domains/").status_code == 200  # logged in by the link
    assert Client().get(f"/dashboard/setup/{token}/").status_code == 403  # spent
    assert setup_token() is None and not (Path(settings.MAILAPP_HOME) / "setup-token").exists()


def test_the_start_up_banner_prints_the_setup_link(db, settings):
    from agents.management.commands.appliance import Command

    out = io.StringIO()
    Command(stdout=out)._greet([])
    from agents.firststart import setup_token

    assert f"/dashboard/setup/{setup_token()}/" in out.getvalue()
    User.objects.create_superuser("root", "", STAFF_PASSWORD)
    out = io.StringIO()
    Command(stdout=out)._greet([])
    assert "/dashboard/setup/" not in out.getvalue()


# --- 5. quotas in units, one formatter ----------------------------------------------------------


def test_one_size_formatter_never_rounds_a_quota_to_zero():
    assert format_bytes(4000) == "3.9 KiB"
    assert format_bytes(0, unlimited="unlimited") == "unlimited"
    assert format_bytes(512 * MiB) == "512.0 MiB"
    assert format_bytes(GiB + GiB // 2) == "1.5 GiB"
    assert format_bytes(10) == "10 B"
    assert format_bytes(None) == "unknown"


@pytest.mark.parametrize("size", [4000, 512 * MiB, 2 * GiB, 1, 0, 3 * GiB + 1])
def test_a_quota_shown_in_the_form_reads_back_to_the_same_bytes(size):
    assert parse_quota(*split_quota(size)) == size


def test_impossible_quotas_are_refused_with_a_sentence():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="negative"):
        parse_quota("-1", "MiB")
    with pytest.raises(ValidationError, match="more than any disk"):
        parse_quota("2000000", "GiB")
    with pytest.raises(ValidationError, match="number"):
        parse_quota("lots", "GiB")


def test_the_admin_shows_quotas_with_the_same_formatter(root, example_com):
    Mailbox.objects.filter(local_part="alice").update(quota=4000)
    listing = root.get("/admin/webadmin/mailbox/").content.decode()
    assert "3.9 KiB" in listing and "0 MiB" not in listing


# --- 6. mailbox passwords follow the staff rules everywhere ------------------------------------


def test_the_admin_refuses_a_weak_mailbox_password(root, example_com):
    response = root.post("/admin/webadmin/mailbox/add/", {
        "domain": example_com.pk, "local_part": "carol", "new_password": "1", "active": "on",
        "filters-TOTAL_FORMS": "0", "filters-INITIAL_FORMS": "0",
    })
    assert "too short" in response.content.decode()
    assert not Mailbox.objects.filter(local_part="carol").exists()


def test_webmail_refuses_a_password_like_the_address(example_com):
    alice = Client()
    assert alice.post("/mail/login/", {"address": "alice@example.com", "password": PASSWORD}).status_code == 302
    response = alice.post("/mail/settings/", {
        "what": "password", "old_password": PASSWORD, "new_password": "alice@example.com",
        "new_password2": "alice@example.com",
    }, follow=True)
    assert "too similar" in response.content.decode()
    assert Mailbox.objects.get(local_part="alice").check_password(PASSWORD)


def test_the_admin_takes_quotas_in_units_and_warns_past_the_disk(root, example_com):
    response = root.post("/admin/webadmin/mailbox/add/", {
        "domain": example_com.pk, "local_part": "carol", "new_password": PASSWORD, "active": "on",
        "quota_0": "1000000", "quota_1": "GiB", "filters-TOTAL_FORMS": "0", "filters-INITIAL_FORMS": "0",
    }, follow=True)
    assert Mailbox.objects.get(local_part="carol").quota == 1000000 * GiB
    assert "exceed the disk" in response.content.decode()
