"""Story 0: from the first start to a mail read in webmail, with only a browser and swaks.

A fresh appliance with no admin prints a one-time setup link; in Chromium the new
admin opens it, creates their login, the first domain and its first mailbox (the
postmaster target); swaks hands a message to the MX port; the user signs in to
webmail and reads it. No CLI, no API, no Django admin.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import screenshot
from tests.e2e.clients import PASSWORD, new_message_id, swaks
from tests.e2e.conftest import PROFILES, running_appliance, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # makes pytest-django create the test database we copy

DOMAIN = "story0.test"
ADMIN_PASSWORD = "first start admin pw 0"


@pytest.fixture(scope="module", params=PROFILES)
def fresh_appliance(request, django_db_setup, django_db_blocker, tmp_path_factory):
    """An appliance of its own, on each profile in turn: the session's appliance gets its admin
    from the CLI (admin_token)."""
    profile = request.param
    with running_appliance(django_db_blocker, tmp_path_factory, name=f"firststart-{profile}", profile=profile) as app:
        yield app


def test_first_start_to_a_mail_read_in_webmail(fresh_appliance, page):
    app = fresh_appliance
    link = re.compile(r"(http://localhost:\d+)/dashboard/setup/([\w-]+)/")
    banner = wait_for(lambda: link.search(app.log.read_text(errors="replace")), 60, "the setup link in the banner")
    assert banner.group(1) == f"http://localhost:{app.ports['HTTP']}"

    page.goto(app.url + "/dashboard/")
    assert "No admin yet" in page.locator("#first-start").inner_text()
    page.goto(f"{app.url}/dashboard/setup/{banner.group(2)}/")
    page.fill("#id_username", "boss")
    page.fill("#id_email", "boss@example.invalid")
    page.fill("#id_password", ADMIN_PASSWORD)
    screenshot(page, "first-start-setup")
    page.click("#save")
    page.wait_for_selector("#no-domains")

    page.click("#create-first-domain")
    page.fill("#id_name", DOMAIN)
    page.fill("#id_postmaster", f"alice@{DOMAIN}")
    page.click("#save")
    page.wait_for_selector("#edit-form")  # alice@ was created as the postmaster's mailbox: set her password
    page.fill("#id_name", "Alice")
    page.fill("#id_password", PASSWORD)
    page.click("#save")
    page.wait_for_selector("#mailbox-facts")
    screenshot(page, "first-start-mailbox")
    # The link is spent: it made the admin once.
    assert page.goto(f"{app.url}/dashboard/setup/{banner.group(2)}/").status == 403

    mid = new_message_id("firststart")
    sent = wait_for(lambda: (r := swaks(
        app, "--port", str(app.ports["SMTP"]), "--from", "dave@remote.test", "--to", f"alice@{DOMAIN}",
        "--header", "Subject: Welcome aboard", "--header", f"Message-Id: {mid}",
        "--body", "First mail, read in webmail.",
    )).returncode == 0 and r or None, 30.0, "the MX to accept alice@", every=0.2)
    assert "250" in sent.stdout

    page.goto(app.url + "/mail/")
    page.fill("#address", f"alice@{DOMAIN}")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_selector("#logout")

    def listed() -> bool:
        page.goto(app.url + "/mail/?folder=INBOX")
        return page.locator("text=Welcome aboard").count() > 0

    wait_for(listed, 30, "the message in the webmail inbox", every=0.5)
    page.click("text=Welcome aboard")
    page.wait_for_selector("article.message")
    assert "First mail, read in webmail." in page.inner_text("article.message")
    screenshot(page, "first-start-webmail-read")
