"""Story 4: a change made through the API reaches the running agents within 2 seconds (DESIGN §3).

The appliance runs with the shipped ``MAILAPP_CONFIG_REFRESH`` (0.5 s). A new
mailbox is accepted at RCPT, and a changed password works for IMAP LOGIN (the
old one no longer does), with no restart; each delay from the API's answer is printed.
"""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import time

import pytest

from tests.e2e.clients import PASSWORD, Api, Webmail, imap_login
from tests.e2e.conftest import client_tls, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "story4.test"
# DESIGN §3 promises 2 seconds; the refresh interval that keeps it is asserted in
# tests/config/test_config_cache.py. Here WITHIN bounds the wait on a busy machine and the
# measured delay is printed, not asserted.
WITHIN = 30.0


def rcpt_code(port: int, rcpt: str) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("probe.remote.test")
        client.mail("probe@remote.test")
        return client.rcpt(rcpt)[0]


def imap_login_works(app, address: str, password: str) -> bool:
    try:
        imap_login(app, address, password).logout()
        return True
    except imaplib.IMAP4.error:
        return False


@pytest.fixture(scope="module")
def api(appliance, admin_token) -> Api:
    api = Api(appliance, admin_token)
    api.domain_with_mailboxes(DOMAIN, "first")
    return api


def test_a_new_mailbox_is_accepted_at_rcpt(appliance, api):
    wait_for(lambda: rcpt_code(appliance.ports["SMTP"], f"first@{DOMAIN}") == 250, WITHIN, "the new domain")
    assert rcpt_code(appliance.ports["SMTP"], f"newcomer@{DOMAIN}") == 550

    api.post("mailboxes/", {"address": f"newcomer@{DOMAIN}", "password": PASSWORD})
    saved = time.monotonic()
    wait_for(lambda: rcpt_code(appliance.ports["SMTP"], f"newcomer@{DOMAIN}") == 250, WITHIN,
             "RCPT to the new mailbox to be accepted", every=0.05)
    print(f"new mailbox accepted {time.monotonic() - saved:.2f}s after the API answered")


def test_a_password_change_is_effective_for_imap(appliance, api):
    mailbox = api.post("mailboxes/", {"address": f"changer@{DOMAIN}", "password": PASSWORD})
    wait_for(lambda: imap_login_works(appliance, f"changer@{DOMAIN}", PASSWORD), WITHIN, "the first password")

    new_password = "a brand new password 2"
    api.patch(f"mailboxes/{mailbox['id']}/", {"password": new_password})
    saved = time.monotonic()
    wait_for(lambda: imap_login_works(appliance, f"changer@{DOMAIN}", new_password), WITHIN,
             "IMAP LOGIN with the new password", every=0.05)
    print(f"new password accepted {time.monotonic() - saved:.2f}s after the API answered")
    assert not imap_login_works(appliance, f"changer@{DOMAIN}", PASSWORD)


def test_a_disabled_mailbox_is_refused_everywhere(appliance, api):
    mailbox = api.post("mailboxes/", {"address": f"leaver@{DOMAIN}", "password": PASSWORD})
    wait_for(lambda: imap_login_works(appliance, f"leaver@{DOMAIN}", PASSWORD), WITHIN,
             "the new mailbox's IMAP login")
    # Each agent process picks the change up on its own (within 2 s): in the large profile RCPT may
    # reach an smtp process that has not yet, although imap has.
    wait_for(lambda: rcpt_code(appliance.ports["SMTP"], f"leaver@{DOMAIN}") == 250, WITHIN, "the new mailbox's RCPT")

    api.patch(f"mailboxes/{mailbox['id']}/", {"active": False})
    saved = time.monotonic()
    wait_for(lambda: not imap_login_works(appliance, f"leaver@{DOMAIN}", PASSWORD), WITHIN,
             "IMAP LOGIN to be refused", every=0.05)
    wait_for(lambda: rcpt_code(appliance.ports["SMTP"], f"leaver@{DOMAIN}") >= 500,
             max(0.0, saved + WITHIN - time.monotonic()), "RCPT to be refused too", every=0.05)
    # Every process (each gunicorn worker, the pop3 agent) takes the change on its own, within the
    # same bound: in the large profile the web sign-in may reach a worker that has not yet.
    wait_for(lambda: Webmail(appliance).login(f"leaver@{DOMAIN}").status_code == 403,
             max(0.0, saved + WITHIN - time.monotonic()), "webmail sign-in to be refused too", every=0.05)
    wait_for(lambda: not pop3_login_works(appliance, f"leaver@{DOMAIN}", PASSWORD),
             max(0.0, saved + WITHIN - time.monotonic()), "POP3 PASS to be refused too", every=0.05)
    print(f"disabled mailbox refused everywhere {time.monotonic() - saved:.2f}s after the API answered")


def pop3_login_works(appliance, address: str, password: str) -> bool:
    pop = poplib.POP3("127.0.0.1", appliance.ports["POP3"], timeout=30)
    try:
        pop.stls(context=client_tls())
        pop.user(address)
        try:
            pop.pass_(password)
        except poplib.error_proto as refusal:
            return b"[IN-USE]" in refusal.args[0]  # a previous try's lock, not a refusal of the password
        pop.quit()  # gives the maildrop lock back for the next try
        return True
    finally:
        pop.close()
