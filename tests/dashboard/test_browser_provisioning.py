"""Provisioning in the dashboard, in Chromium: domains, mailboxes, aliases, filters, vacation, admins.

Each story is what a new admin does on day one, with the dashboard's own pages only
(no Django admin, no JSON), and leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from agents import config
from tests.browser import screenshot
from tests.conftest import PASSWORD
from tests.dashboard.browser import log_in, open_as
from webadmin.models import Alias, Domain, DomainAdmin, Filter, Mailbox

pytestmark = pytest.mark.browser


def test_no_domains_to_a_mailbox_and_an_alias(live_server, page, superuser):
    open_as(page, live_server, "/dashboard/domains/")
    assert "No domains." in page.locator("#no-domains").inner_text()
    page.click("#create-first-domain")
    page.fill("#id_name", "acme.example")
    page.fill("#id_default_quota_0", "2")
    page.select_option("#id_default_quota_1", "GiB")
    page.fill("#id_postmaster", "boss@acme.example")
    screenshot(page, "dashboard-domain-new")
    page.click("#save")
    # The postmaster's new mailbox needs a password next: the form opens for it.
    page.wait_for_selector("#edit-form")
    assert Domain.objects.get(name="acme.example").default_quota == 2 * 1024**3
    page.click("button.generate")
    generated = page.input_value("#id_password")
    assert len(generated) >= 20 and page.get_attribute("#id_password", "type") == "text"
    page.click("#save")
    page.wait_for_selector("#mailbox-facts")
    assert config.authenticate("boss@acme.example", generated, "imap") is not None

    page.goto(f"{live_server.url}/dashboard/domains/acme.example/")
    page.click("#new-mailbox")
    page.fill("#id_local_part", "alice")
    page.fill("#id_name", "Alice Acme")
    page.fill("#id_quota_0", "512")
    page.fill("#id_password", PASSWORD)
    screenshot(page, "dashboard-mailbox-new")
    page.click("#save")
    page.wait_for_selector("#mailbox-facts")
    assert "512.0 MiB" in page.locator("#quota").inner_text()
    alice = Mailbox.objects.get(local_part="alice", domain__name="acme.example")
    assert alice.quota == 512 * 1024**2 and alice.name == "Alice Acme"

    page.goto(f"{live_server.url}/dashboard/domains/acme.example/")
    page.click("#new-alias")
    page.fill("#id_local_part", "team")
    page.fill("#id_targets", "alice@acme.example\nboss@acme.example\nfriend@elsewhere.example")
    screenshot(page, "dashboard-alias-new")
    page.click("#save")
    page.wait_for_selector("#aliases")
    team = Alias.objects.get(local_part="team", domain__name="acme.example")
    assert team.targets == ["alice@acme.example", "boss@acme.example", "friend@elsewhere.example"]
    assert "friend@elsewhere.example" in page.locator("tr[data-alias=team]").inner_text()
    screenshot(page, "dashboard-domain-with-mailboxes-and-aliases")
    assert page.console_errors == []


def test_alias_targets_are_edited_one_per_line(live_server, page, superuser, example_com):
    team = Alias.objects.create(domain=example_com, local_part="team", targets=["alice@example.com"])
    open_as(page, live_server, f"/dashboard/domains/example.com/aliases/{team.pk}/")
    assert page.input_value("#id_targets") == "alice@example.com"
    page.fill("#id_targets", "alice@example.com\nbob@example.com")
    page.click("#save")
    page.wait_for_selector("#aliases")
    team.refresh_from_db()
    assert team.targets == ["alice@example.com", "bob@example.com"]
    page.goto(f"{live_server.url}/dashboard/domains/example.com/aliases/{team.pk}/")
    page.fill("#id_targets", "not an address")
    page.click("#save")
    assert "is not a mail address" in page.locator("[data-error-for=targets]").inner_text()
    assert "JSON" not in page.content()


def test_filters_and_vacation_with_the_webmail_rule_builder(live_server, page, superuser, example_com):
    open_as(page, live_server, "/dashboard/domains/example.com/mailboxes/alice/")
    page.click("#new-filter")
    page.fill("#name", "Invoices")
    assert page.locator("select[name=cond0_field] option[value=to_cc]").inner_text() == "To or Cc"
    page.select_option("select[name=cond0_field]", "subject")
    page.select_option("select[name=cond0_op]", "contains")
    page.fill("input[name=cond0_value]", "invoice")
    page.select_option("select[name=act0_action]", "fileinto")
    page.fill("input[name=act0_arg]", "Bills")
    screenshot(page, "dashboard-filter-builder")
    page.click("#save-filter")
    page.wait_for_selector("#filter-list")
    rule = Filter.objects.get(mailbox__local_part="alice", name="Invoices")
    assert rule.conditions == [{"field": "subject", "op": "contains", "value": "invoice"}]
    assert rule.actions == [{"action": "fileinto", "folder": "Bills"}]
    assert "Subject contains “invoice”" in page.locator("#filter-list").inner_text()

    page.check("#vacation input[name=active]")
    page.fill("#vac-subject", "Away")
    page.fill("#vac-body", "Back on Monday.")
    page.click("#save-vacation")
    page.wait_for_selector(".flash .success")
    vacation = Filter.objects.get(mailbox__local_part="alice", name="Vacation auto-reply")
    assert vacation.active and vacation.actions[0]["body"] == "Back on Monday."
    screenshot(page, "dashboard-mailbox-filters-vacation")

    # A broken rule is refused with the model's sentence, the form kept as typed.
    page.click("#new-filter")
    page.fill("#name", "Bad")
    page.select_option("select[name=act0_action]", "fileinto")
    page.fill("input[name=act0_arg]", "../etc")
    page.click("#save-filter")
    assert "no “..”" in page.locator(".error").inner_text()
    assert page.input_value("input[name=act0_arg]") == "../etc"


def test_weak_mailbox_passwords_are_refused_and_generate_makes_a_good_one(live_server, page, superuser, example_com):
    open_as(page, live_server, "/dashboard/domains/example.com/mailboxes/new/")
    page.fill("#id_local_part", "carol")
    page.fill("#id_password", "1")
    page.click("#save")
    page.wait_for_load_state()  # the click waits for the navigation to start only; all_inner_texts() does not wait
    errors = page.locator("[data-error-for=password]").all_inner_texts()
    assert any("too short" in e for e in errors) and any("too common" in e for e in errors)
    page.fill("#id_password", "carol.example.com")
    page.click("#save")
    page.wait_for_load_state()
    assert "too similar" in " ".join(page.locator("[data-error-for=password]").all_inner_texts())
    assert not Mailbox.objects.filter(local_part="carol").exists()
    page.click("button.generate")
    screenshot(page, "dashboard-password-generate")
    generated = page.input_value("#id_password")
    page.click("#save")
    page.wait_for_selector("#mailbox-facts")
    assert config.authenticate("carol@example.com", generated, "imap") is not None


def test_a_tiny_quota_shows_in_kib_and_a_huge_one_warns(live_server, page, superuser, example_com):
    Mailbox.objects.filter(local_part="alice").update(quota=4000)
    open_as(page, live_server, "/dashboard/domains/example.com/")
    row = page.locator("#mailboxes tr", has_text="alice@example.com")
    assert "3.9 KiB" in row.inner_text() and "0 MiB" not in row.inner_text()
    page.goto(f"{live_server.url}/dashboard/domains/example.com/mailboxes/alice/")
    assert page.locator("#quota").inner_text() == "3.9 KiB"
    page.goto(f"{live_server.url}/dashboard/domains/example.com/mailboxes/alice/edit/")
    page.fill("#id_quota_0", "1000000")
    page.select_option("#id_quota_1", "GiB")
    page.click("#save")
    page.wait_for_selector(".flash .warning")
    assert "exceed the disk" in page.locator(".flash .warning").inner_text()
    page.goto(f"{live_server.url}/dashboard/domains/")
    assert "exceed the disk" in page.locator("#overcommit").inner_text()
    screenshot(page, "dashboard-quota-overcommit")


def test_a_domain_admin_made_in_the_dashboard_can_log_in_at_once(live_server, page, superuser, make_domain):
    make_domain("acme.example")
    make_domain("other.example")
    open_as(page, live_server, "/dashboard/admins/")
    page.click("#new-domain-admin")
    page.fill("#id_username", "dana")
    page.fill("#id_email", "dana@acme.example")
    page.fill("#id_password", "dana's long pass 9")
    page.check("#row-domains label:has-text('acme.example') input")
    screenshot(page, "dashboard-domain-admin-new")
    page.click("#save")
    page.wait_for_selector("#domain-admins")
    dana = User.objects.get(username="dana")
    assert dana.is_staff and not dana.is_superuser
    assert list(DomainAdmin.objects.get(user=dana).domains.values_list("name", flat=True)) == ["acme.example"]

    page.context.clear_cookies()
    log_in(page, live_server, "dana", "dana's long pass 9")
    page.goto(f"{live_server.url}/dashboard/domains/")
    names = page.locator("#domains tr[data-domain]").evaluate_all("rows => rows.map(r => r.dataset.domain)")
    assert names == ["acme.example"]


def test_deleting_a_domain_shows_what_goes_and_where_the_mail_is_kept(live_server, page, superuser, example_com,
                                                                     settings):
    from agents.store import default_store

    default_store().mailbox("alice@example.com").deliver(b"Subject: keep me\r\n\r\n" + b"x" * 3000 + b"\r\n")
    open_as(page, live_server, "/dashboard/domains/example.com/")
    page.click("#delete-domain")
    page.wait_for_selector("#confirm-delete")
    assert page.locator("[data-count=mailboxes]").inner_text() == "3"
    assert page.locator("[data-count=messages]").inner_text() == "1"
    assert page.locator("[data-count=bytes]").inner_text() == "3.0 KiB"  # 3,027 bytes
    assert page.locator("#archive-dir").inner_text() == str(settings.MAILAPP_ARCHIVE_DIR)
    assert Domain.objects.filter(name="example.com").exists()
    screenshot(page, "dashboard-delete-domain-confirm")
    page.click("#confirm")
    page.wait_for_selector(".flash .success")
    assert not Domain.objects.filter(name="example.com").exists()
    kept = [p for p in (settings.MAILAPP_ARCHIVE_DIR / "example.com").glob("alice-*") if p.is_dir()]
    stored = [f for d in kept for f in d.rglob("*") if f.is_file() and f.parent.name == "new"]
    assert any(b"keep me" in f.read_bytes() for f in stored)


def test_deleting_a_mailbox_from_its_page_confirms_first(live_server, page, superuser, example_com):
    open_as(page, live_server, "/dashboard/domains/example.com/mailboxes/bob/")
    page.click("#delete-mailbox")
    page.wait_for_selector("#confirm-delete")
    assert page.locator("[data-count=mailboxes]").inner_text() == "1"
    assert Mailbox.objects.filter(local_part="bob").exists()
    page.check("input[name=mode][value=archive]")
    page.click("#confirm")
    page.wait_for_selector("#mailboxes")
    assert not Mailbox.objects.filter(local_part="bob").exists()
