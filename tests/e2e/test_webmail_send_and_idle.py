"""Webmail sends through the one queue, and a waiting IMAP IDLE client is told about the new mail.

bob sits in IMAP IDLE (over STARTTLS) on his INBOX; alice writes to him in
webmail (/mail/compose/, CSRF token and all). The queue and the real worker
deliver it, bob's IDLE session gets an untagged EXISTS without asking, and
alice's copy is in her Sent folder where IMAP sees it too.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.e2e.clients import Api, Webmail, imap_login
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "story8.test"
IDLE_WAIT = 30.0  # webmail's send → worker → store → IDLE push; measured in the printout


def subjects(client, folder: str) -> list[str]:
    status, _ = client.select(f'"{folder}"', readonly=True)
    if status != "OK":
        return []
    status, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    return [item[1].decode().strip().removeprefix("Subject: ") for item in data if isinstance(item, tuple)]


def test_webmail_send_reaches_an_idle_imap_client(appliance, admin_token):
    Api(appliance, admin_token).domain_with_mailboxes(DOMAIN, "alice", "bob")
    subject = f"From webmail {uuid.uuid4().hex[:8]}"

    bob = wait_for(lambda: _try_login(appliance, f"bob@{DOMAIN}"), 30, "bob's IMAP login")
    bob.select("INBOX")
    tag = bob._new_tag()
    bob.send(tag + b" IDLE\r\n")
    assert bob.readline().startswith(b"+")

    browser = Webmail(appliance)
    assert browser.login(f"alice@{DOMAIN}").status_code == 200
    form = browser.get("/mail/compose/")
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    sent = browser.session.post(appliance.url + "/mail/compose/", data={
        "csrfmiddlewaretoken": token, "from_addr": f"alice@{DOMAIN}", "to": f"bob@{DOMAIN}",
        "subject": subject, "body": "Sent from the browser.", "mode": "",
    }, headers={"Referer": appliance.url + "/mail/compose/"}, timeout=30, allow_redirects=False)
    assert sent.status_code == 302, sent.text[-2000:]
    started = time.monotonic()

    bob.sock.settimeout(IDLE_WAIT)
    pushed = b""
    while b"EXISTS" not in pushed and time.monotonic() - started < IDLE_WAIT:
        pushed += bob.readline()
    assert re.search(rb"\* \d+ EXISTS", pushed), pushed
    print(f"IDLE reported the webmail message {time.monotonic() - started:.2f}s after the send")
    bob.send(b"DONE\r\n")
    lines = [bob.readline() for _ in range(1)]
    while not lines[-1].startswith(tag) and len(lines) < 20:  # untagged news may come before the OK
        lines.append(bob.readline())
    assert lines[-1].startswith(tag + b" OK"), lines
    assert subject in subjects(bob, "INBOX")
    bob.logout()

    alice = imap_login(appliance, f"alice@{DOMAIN}")
    try:
        assert subject in subjects(alice, "Sent")
    finally:
        alice.logout()


def _try_login(appliance, address):
    import imaplib

    try:
        return imap_login(appliance, address)
    except imaplib.IMAP4.error:
        return None
