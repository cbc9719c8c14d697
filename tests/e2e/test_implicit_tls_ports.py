"""The implicit-TLS ports a mail client's autoconfig prefers (993 IMAPS, 995 POP3S) log in and list mail.

Also: the certificate they present is the appliance's own (its host name), and
a client that insists on verifying against the system's CAs is refused the
handshake rather than silently downgraded.
"""

from __future__ import annotations

import imaplib
import poplib
import socket
import ssl

import pytest

from tests.e2e.clients import PASSWORD, Api
from tests.e2e.conftest import client_tls, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "story7.test"


def imaps_login(app, address: str) -> imaplib.IMAP4_SSL | None:
    try:
        client = imaplib.IMAP4_SSL("127.0.0.1", app.ports["IMAPS"], ssl_context=client_tls(), timeout=30)
    except OSError:
        return None
    try:
        client.login(address, PASSWORD)
    except imaplib.IMAP4.error:
        client.logout()
        return None
    return client


def test_imaps_and_pop3s_log_in(appliance, admin_token):
    Api(appliance, admin_token).domain_with_mailboxes(DOMAIN, "tls")
    # the 2 s propagation bound plus a first login's password hash, on a busy test machine
    imap = wait_for(lambda: imaps_login(appliance, f"tls@{DOMAIN}"), 30, "IMAPS login")
    try:
        status, data = imap.list()
        assert status == "OK"
        names = b"\n".join(data)
        assert all(name in names for name in (b"INBOX", b"Sent", b"Drafts", b"Junk", b"Trash"))
    finally:
        imap.logout()

    pop = poplib.POP3_SSL("127.0.0.1", appliance.ports["POP3S"], context=client_tls(), timeout=30)
    try:
        pop.user(f"tls@{DOMAIN}")
        assert pop.pass_(PASSWORD).startswith(b"+OK")
        assert pop.stat() == (0, 0)
    finally:
        pop.quit()


def test_the_certificate_names_the_appliance(appliance):
    with socket.create_connection(("127.0.0.1", appliance.ports["IMAPS"]), timeout=30) as raw:
        with client_tls().wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der and b"mx.e2e.test" in der
    strict = ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", appliance.ports["IMAPS"]), timeout=30) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            strict.wrap_socket(raw, server_hostname="mx.e2e.test")
