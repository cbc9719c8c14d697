"""Story 1: provision through the API, receive from outside, read with IMAP, POP3 and webmail.

A script with a token makes a domain, two mailboxes, an alias with an external
target and a filter; swaks hands mail to the MX port; the real Celery worker
delivers it; IMAP (STARTTLS) finds it in INBOX and the filtered one in its
folder; POP3 (STLS) names it with the UIDL IMAP implies; webmail lists it; and
the alias's external copy reaches the (fake) remote MX. It runs on both process
layouts (MAILAPP_PROFILE small and large, docs/scaling.md).
"""

from __future__ import annotations

import pytest

from tests.e2e.clients import (
    PASSWORD,
    Api,
    Webmail,
    imap_login,
    new_message_id,
    pop3_login,
    swaks,
    wait_for_messages,
)
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # makes pytest-django create the test database we copy

DOMAIN = "story1.test"


def test_provisioned_addresses_receive_mail_readable_by_imap_pop3_and_webmail(appliance, admin_token):
    api = Api(appliance, admin_token)
    api.post("domains/", {"name": DOMAIN})
    api.post("mailboxes/", {"address": f"alice@{DOMAIN}", "password": PASSWORD, "name": "Alice"})
    api.post("mailboxes/", {"address": f"bob@{DOMAIN}", "password": PASSWORD})
    api.post("aliases/", {"address": f"team@{DOMAIN}", "targets": [f"alice@{DOMAIN}", "carol@remote.test"]})
    api.post("filters/", {
        "mailbox": f"alice@{DOMAIN}", "name": "Lists",
        "conditions": [{"field": "subject", "op": "contains", "value": "[announce]"}],
        "actions": [{"action": "fileinto", "folder": "Lists"}],
    })

    direct, via_alias, listed = new_message_id("direct"), new_message_id("alias"), new_message_id("list")
    for to, subject, mid in ((f"alice@{DOMAIN}", "Direct hello", direct),
                             (f"team@{DOMAIN}", "Team hello", via_alias),
                             (f"alice@{DOMAIN}", "[announce] release 1.0", listed)):
        # New addresses reach the agents within 2 s (measured in test_config_changes_reach_agents);
        # here swaks simply tries again until then, with room for a slow machine.
        result = wait_for(lambda to=to, subject=subject, mid=mid: (r := swaks(
            appliance, "--port", str(appliance.ports["SMTP"]), "--from", "dave@remote.test", "--to", to,
            "--header", f"Subject: {subject}", "--header", f"Message-Id: {mid}", "--body", "Hi Alice.",
        )).returncode == 0 and r or None, 30.0, f"the MX to accept {to}", every=0.2)
        assert "250" in result.stdout

    inbox = wait_for_messages(appliance, f"alice@{DOMAIN}", {direct, via_alias})
    assert listed not in inbox.values()
    lists = wait_for_messages(appliance, f"alice@{DOMAIN}", {listed}, folder="Lists")
    assert list(lists.values()) == [listed]

    # The alias's external target got its copy through the remote-delivery path.
    wait_for(lambda: appliance.mx.recipients_count().get("carol@remote.test"), 30, "carol's copy at the fake MX")
    remote = [m for m in appliance.mx.messages if "carol@remote.test" in m.rcpt_tos]
    assert len(remote) == 1 and via_alias.encode() in remote[0].data

    # POP3 over STLS: the same messages, named by UIDL = "<uidvalidity>.<uid>" of INBOX.
    imap = imap_login(appliance, f"alice@{DOMAIN}")
    status, data = imap.status("INBOX", "(UIDVALIDITY)")
    uidvalidity = int(data[0].split(b"UIDVALIDITY ")[1].rstrip(b")"))
    imap.logout()
    pop = pop3_login(appliance, f"alice@{DOMAIN}")
    try:
        uidls = {}
        for line in pop.uidl()[1]:
            number, uidl = line.decode().split()
            uidls[uidl] = int(number)
        assert set(uidls) == {f"{uidvalidity}.{uid}" for uid in inbox}
        for uid, mid in inbox.items():
            raw = b"\r\n".join(pop.retr(uidls[f"{uidvalidity}.{uid}"])[1])
            assert mid.encode() in raw
    finally:
        pop.quit()

    # Webmail: the mail address and password, a CSRF cookie, and the inbox lists the messages.
    browser = Webmail(appliance)
    assert browser.login("bob@" + DOMAIN, "wrong password").status_code == 403
    response = browser.login(f"alice@{DOMAIN}")
    assert response.status_code == 200 and "/mail/login/" not in response.url
    page = browser.get("/mail/?folder=INBOX")
    assert page.status_code == 200
    assert "Direct hello" in page.text and "Team hello" in page.text
    assert "[announce] release 1.0" in browser.get("/mail/?folder=Lists").text
    assert browser.get("/admin/").url.endswith("/dashboard/login/?next=/admin/")  # no staff rights from a mail login
