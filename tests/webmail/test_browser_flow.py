"""A mailbox user lives in the webmail in real Chromium: log in, read, search, write, reply, move, delete, filters."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from agents.models import QueueMessage
from agents.queue import spool
from tests.browser import screenshot
from tests.conftest import PASSWORD
from tests.webmail.conftest import message
from webadmin.models import Filter

pytestmark = pytest.mark.browser


@pytest.fixture
def signed_in(live_server, page, transactional_db, example_com, alice_store):
    """Chromium signed in as alice, with three messages in her INBOX."""
    for number, subject in enumerate(("Quarterly numbers", "Lunch on Friday?", "Holiday photos"), 1):
        alice_store.deliver(message(subject=subject, body=f"Message body {number}.\r\n"))
    page.goto(f"{live_server.url}/mail/")
    page.fill("#address", "alice@example.com")
    page.fill("#password", PASSWORD)
    screenshot(page, "webmail-login")
    page.click("#signin")
    page.wait_for_selector("table.messages")
    return page


def _queued(subject: str) -> email.message.EmailMessage:
    row = QueueMessage.objects.get(subject=subject)
    assert row.source == "webmail" and row.auth_user == "alice@example.com"
    return email.message_from_bytes(spool.read(row.queue_id), policy=policy.default)


def test_log_in_and_read_a_message(signed_in, alice_store):
    page = signed_in
    assert page.locator("tr.unread").count() == 3
    screenshot(page, "webmail-inbox")
    page.click("text=Lunch on Friday?")
    page.wait_for_selector("article.message")
    assert "Message body 2." in page.inner_text("pre.body-text")
    screenshot(page, "webmail-message")
    page.click("text=← INBOX")
    page.wait_for_load_state()  # the click waits for the navigation to start only; count() does not wait
    assert page.locator("tr.unread").count() == 2
    assert page.console_errors == []


def test_search_by_subject(signed_in):
    page = signed_in
    page.fill("input[name=q]", "holiday")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("text=results for")
    page.wait_for_load_state()  # the heading can be parsed before the table below it
    rows = page.locator("table.messages td.subject")
    assert rows.count() == 1 and rows.first.inner_text() == "Holiday photos"


def test_compose_with_an_attachment(signed_in, alice_store, tmp_path: Path):
    page = signed_in
    upload = tmp_path / "agenda.txt"
    upload.write_text("1. numbers\n2. lunch\n")
    page.click("#compose")
    page.fill("#to", "Bob <bob@example.com>")
    page.fill("#subject", "Agenda")
    page.fill("#body", "See the attached agenda.")
    page.set_input_files("#attachments", str(upload))
    screenshot(page, "webmail-compose")
    page.click("#send")
    page.wait_for_selector("text=Message sent to bob@example.com")
    sent = _queued("Agenda")
    assert [part.get_filename() for part in sent.iter_attachments()] == ["agenda.txt"]
    assert [s.subject for s in alice_store.folder("Sent").page()] == ["Agenda"]
    assert page.console_errors == []


def test_reply(signed_in, alice_store):
    page = signed_in
    page.click("text=Quarterly numbers")
    page.click("#reply")
    assert page.input_value("#subject") == "Re: Quarterly numbers"
    assert "> Message body 1." in page.input_value("#body")
    page.fill("#body", "Thanks!\n" + page.input_value("#body"))
    page.click("#send")
    page.wait_for_selector("text=Message sent")
    assert _queued("Re: Quarterly numbers")["In-Reply-To"]
    uid = alice_store.folder("INBOX").search_header("subject", "Quarterly numbers")[0]
    assert "\\Answered" in alice_store.folder("INBOX").meta(uid).flags


def test_move_and_delete(signed_in, alice_store):
    page = signed_in
    page.click("text=Manage folders")
    page.fill("#new-folder", "Receipts")
    page.click("#create-folder button")
    page.wait_for_selector("tr[data-folder=Receipts]")
    page.click(".folders a[data-folder=INBOX]")
    page.locator("tr", has_text="Quarterly numbers").locator("input[name=uid]").check()
    page.select_option("select[name=dest]", "Receipts")
    page.click("button[value=move]")
    page.wait_for_selector("text=1 moved to Receipts")
    page.locator("tr", has_text="Holiday photos").locator("input[name=uid]").check()
    page.click("button[value=delete]")
    page.wait_for_selector("text=1 moved to Trash")
    screenshot(page, "webmail-after-move-delete")
    assert [s.subject for s in alice_store.folder("Receipts").page()] == ["Quarterly numbers"]
    assert [s.subject for s in alice_store.folder("Trash").page()] == ["Holiday photos"]
    assert [s.subject for s in alice_store.folder("INBOX").page()] == ["Lunch on Friday?"]


def test_change_a_filter(signed_in):
    page = signed_in
    page.click("text=Settings")
    page.click("#new-filter")
    page.fill("#name", "Newsletters")
    page.select_option("select[name=cond0_field]", "subject")
    page.fill("input[name=cond0_value]", "newsletter")
    page.select_option("select[name=act0_action]", "fileinto")
    page.fill("input[name=act0_arg]", "News")
    page.click("#save-filter")
    page.wait_for_selector("text=Filter saved.")
    page.click("text=Newsletters")
    page.fill("input[name=act0_arg]", "Reading")
    page.check("input[name=stop]")
    screenshot(page, "webmail-filter")
    page.click("#save-filter")
    page.wait_for_selector("text=Filter saved.")
    screenshot(page, "webmail-settings")
    rule = Filter.objects.get(mailbox__local_part="alice", name="Newsletters")
    assert rule.actions == [{"action": "fileinto", "folder": "Reading"}] and rule.stop
    assert page.console_errors == []


def test_read_an_html_mail_with_an_attachment_and_a_remote_image(signed_in, alice_store):
    page = signed_in
    raw = (
        b"From: News <news@example.org>\r\nTo: alice@example.com\r\nSubject: =?utf-8?q?Caf=C3=A9_news?=\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n'
        b"--m\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b'<h2 style="color:#a33">Weekly</h2><p>Hello <b>Alice</b>, <a href="https://example.org/x">read more</a>.</p>'
        b'<img src="https://127.0.0.1:9/pixel.gif" alt="pixel">\r\n'
        b'--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="menu.pdf"\r\n\r\n'
        b"%PDF-1.4 menu\r\n--m--\r\n"
    )
    _, uid = alice_store.deliver(raw)
    page.goto(page.url.split("/mail/")[0] + f"/mail/message/{uid}/?folder=INBOX")
    assert page.inner_text("h1.subject") == "Café news"
    frame = page.frame_locator("iframe.body-frame")
    assert frame.locator("b").inner_text() == "Alice"
    assert frame.locator("a").get_attribute("target") == "_blank"
    assert page.locator("#show-images").count() == 1
    with page.expect_download() as download:
        page.click("text=menu.pdf")
    assert download.value.suggested_filename == "menu.pdf"
    screenshot(page, "webmail-html-message")
    assert page.console_errors == []


def test_new_mail_shows_without_a_reload(signed_in, alice_store):
    page = signed_in
    alice_store.deliver(message(subject="Fresh news"))
    page.evaluate("window.webmailPoll()")
    page.wait_for_selector("#new-mail:not([hidden])")
    assert page.inner_text(".folders a[data-folder=INBOX] .badge") == "4"
    page.click("#new-mail a")
    page.wait_for_selector("text=Fresh news")
    assert page.console_errors == []
