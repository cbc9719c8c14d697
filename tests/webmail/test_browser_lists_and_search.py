"""Message lists in Chromium: Sent and Drafts name the recipient, search reaches every folder,
and the Move menu starts on a neutral “Move to…”, never on a folder."""

from __future__ import annotations

import pytest

from tests.browser import screenshot
from tests.conftest import PASSWORD
from tests.webmail.conftest import message

pytestmark = pytest.mark.browser


@pytest.fixture
def signed_in(live_server, page, transactional_db, example_com, alice_store):
    alice_store.deliver(message(subject="Budget draft from Bob", sender="Bob Example <bob@example.com>"))
    alice_store.create_folder("Projects")
    alice_store.deliver(message(subject="Budget for Projects", sender="Carol <carol@example.net>"), folder="Projects")
    alice_store.deliver(
        message(subject="Budget reply", sender="Alice Example <alice@example.com>", to="Dora Doe <dora@example.org>"),
        folder="Sent",
    )
    alice_store.deliver(
        message(subject="Unfinished", sender="Alice Example <alice@example.com>", to="Erik <erik@example.org>"),
        folder="Drafts",
    )
    page.goto(f"{live_server.url}/mail/")
    page.fill("#address", "alice@example.com")
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_selector("table.messages")
    return page


def test_sent_and_drafts_show_to_whom(signed_in, live_server):
    page = signed_in
    page.goto(f"{live_server.url}/mail/?folder=Sent")
    assert page.inner_text("table.messages th.who") == "To"
    assert page.inner_text("table.messages td.from") == "To: Dora Doe"
    screenshot(page, "webmail-sent-shows-to")
    page.goto(f"{live_server.url}/mail/?folder=Drafts")
    assert page.inner_text("table.messages td.from") == "To: Erik"
    page.goto(f"{live_server.url}/mail/?folder=INBOX")
    assert page.inner_text("table.messages th.who") == "From"
    assert page.inner_text("table.messages td.from") == "Bob Example"


def test_search_in_all_folders(signed_in):
    page = signed_in
    page.fill("input[name=q]", "budget")
    page.select_option("#search-where", "all")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("h1:has-text(\"All folders\")")
    found = {
        (row.locator("td.subject").inner_text(), row.locator("td.folder").inner_text())
        for row in page.locator("table.messages tbody tr").all()
    }
    assert found == {("Budget draft from Bob", "INBOX"), ("Budget for Projects", "Projects"), ("Budget reply", "Sent")}
    screenshot(page, "webmail-search-all-folders")
    page.click("text=Budget for Projects")
    page.wait_for_selector("article.message")
    assert "Carol" in page.inner_text(".h-from")
    assert page.console_errors == []


def test_search_in_this_folder_stays_in_it(signed_in):
    page = signed_in
    page.fill("input[name=q]", "budget")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("text=results for")
    page.wait_for_load_state()  # the heading can be parsed before the table below it
    assert page.locator("table.messages td.subject").all_inner_texts() == ["Budget draft from Bob"]


def test_the_move_menu_starts_on_a_placeholder(signed_in, alice_store):
    page = signed_in
    assert page.eval_on_selector("#listform select[name=dest]", "s => s.options[s.selectedIndex].text") == "Move to…"
    page.check("table.messages input[name=uid]")
    page.click("#listform button[value=move]")
    page.wait_for_selector("text=Choose the folder to move to first.")
    assert alice_store.folder("Drafts").exists == 1 and alice_store.folder("INBOX").exists == 1, "nothing moved"
    page.click("text=Budget draft from Bob")
    page.wait_for_selector("article.message")
    assert page.eval_on_selector("#msgform select[name=dest]", "s => s.options[s.selectedIndex].text") == "Move to…"
    page.select_option("#msgform select[name=dest]", "Projects")
    page.click("#msgform button[value=move]")
    page.wait_for_selector("text=1 moved to Projects.")
    assert alice_store.folder("Projects").exists == 2
