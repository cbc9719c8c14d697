"""Issue 24, story 1: mail accepted on node A for a mailbox homed on node B lands once in B's Maildir,
and reads byte-identical over IMAP and POP3 through nginx's mail proxy, which asks A's
``/auth/mailproxy`` where the user lives and connects to B with a PROXY header and a one-time token."""

from __future__ import annotations

import imaplib
import smtplib

import pytest

from agents.cluster.nodes import renew, stopped
from agents.models import LoginFailure
from tests.conftest import PASSWORD, free_port, wait_until

from .nodes import Node, cluster_broker, needs_postgres
from .proxy import CLIENT_ADDRESS, Nginx

pytestmark = needs_postgres

SECRET = "auth-http secret of the test cluster"
MESSAGE = (b"From: Bob <bob@remote.test>\r\nTo: alice@example.com\r\nSubject: across nodes\r\n"
           b"Message-ID: <story1@remote.test>\r\n\r\nBody line one\r\n\r\n.a dot-stuffed line\r\n"
           + b"x" * 900 + b"\r\n")


def close(client: imaplib.IMAP4) -> None:
    try:
        client.shutdown()
    except OSError:
        pass  # logged out already


def test_mail_taken_on_a_lands_once_on_b_and_reads_byte_identical_through_the_proxy(
        transactional_db, make_mailbox, tmp_path):
    make_mailbox("alice@example.com", home_node="b")
    broker = cluster_broker(tmp_path)
    ports = {"MAILAPP_IMAP_PORT": str(free_port()), "MAILAPP_POP3_PORT": str(free_port()),
             "MAILAPP_HTTP_PORT": str(free_port()), "MAILAPP_SUBMISSION_PORT": str(free_port()),
             "MAILAPP_TRUSTED_PROXIES": "127.0.0.1",
             "MAILAPP_AUTH_HTTP_SECRET": SECRET}
    a = Node("a", "127.0.0.2", tmp_path, broker, **ports)
    b = Node("b", "127.0.0.3", tmp_path, broker, **ports)
    renew("a", a.address, 600, starting=True)  # the supervisors' leases (not run here)
    renew("b", b.address, 600, starting=True)
    proxy = None
    try:
        a.smtpd()
        a.web()
        b.worker()
        b.smtpd()
        b.imapd(int(ports['MAILAPP_IMAP_PORT']))
        b.pop3d(int(ports['MAILAPP_POP3_PORT']))
        proxy = Nginx(tmp_path / "nginx", auth_http=f"{a.address}:{ports['MAILAPP_HTTP_PORT']}/auth/mailproxy",
                      secret=SECRET, imap_port=free_port(), pop3_port=free_port(), smtp_port=free_port(),
                      imaps_port=free_port())

        # From the clients' address: a connection from nginx's (trusted) address must start with PROXY.
        with smtplib.SMTP(a.address, a.smtp_port, timeout=30, source_address=(CLIENT_ADDRESS, 0)) as smtp:
            smtp.sendmail("bob@remote.test", ["alice@example.com"], MESSAGE)
        wait_until(lambda: b.maildir_files("alice@example.com"), "the message in alice's Maildir on node b",
                   timeout=60, every=0.1)
        files = b.maildir_files("alice@example.com")
        assert len(files) == 1, "stored more than once"
        assert not (a.home / "mail").exists(), "node a stored mail for a mailbox homed on b"
        stored = files[0].read_bytes()
        assert stored.endswith(MESSAGE.replace(b"\r\n..", b"\r\n.")) or MESSAGE.split(b"\r\n\r\n", 1)[1] in stored

        imap = proxy.imap()
        try:
            imap.login("alice@example.com", PASSWORD)
            imap.select("INBOX", readonly=True)
            status, data = imap.fetch("1", "(BODY.PEEK[])")
            assert status == "OK"
            over_imap = data[0][1]
            imap.logout()
        finally:
            close(imap)
        pop = proxy.pop3()
        try:
            pop.user("alice@example.com")
            pop.pass_(PASSWORD)
            _resp, lines, _octets = pop.retr(1)
            over_pop3 = b"\r\n".join(lines) + b"\r\n"
            pop.quit()
        finally:
            pop.close()
        secure = proxy.imaps()  # TLS from the client to nginx, as real clients connect
        try:
            secure.login("alice@example.com", PASSWORD)
            secure.select("INBOX", readonly=True)
            over_imaps = secure.fetch("1", "(BODY.PEEK[])")[1][0][1]
        finally:
            secure.logout()
        assert over_imap == stored, "IMAP through the proxy differs from the Maildir file"
        assert over_imaps == stored, "IMAP over TLS through the proxy differs from the Maildir file"
        assert over_pop3 == stored, "POP3 through the proxy differs from the Maildir file"

        # A wrong password is counted against the client's address, not the proxy's.
        bad = proxy.imap()
        try:
            try:
                bad.login("alice@example.com", "wrong password")
            except bad.error:
                pass
            else:
                raise AssertionError("a wrong password logged in through the proxy")
        finally:
            close(bad)
        assert set(LoginFailure.objects.values_list("ip", flat=True)) == {CLIENT_ADDRESS}

        # Submission through the proxy: AUTH checked by A's auth_http, XCLIENT to B's submission port.
        with proxy.smtp() as smtp:
            smtp.ehlo("client.example.net")
            smtp.login("alice@example.com", PASSWORD)
            smtp.sendmail("alice@example.com", ["alice@example.com"],
                          b"From: alice@example.com\r\nSubject: sent through the proxy\r\n\r\nhi\r\n")
        wait_until(lambda: len(b.maildir_files("alice@example.com")) == 2, "the submitted message on node b",
                   timeout=60, every=0.1)
        from agents.models import QueueMessage

        submitted = QueueMessage.objects.get(auth_user="alice@example.com")
        assert submitted.client_address == CLIENT_ADDRESS, "the node saw the proxy, not the client"

        # B's lease ends (it died): the proxy says so to the client instead of connecting anywhere else.
        stopped("b")
        down = proxy.imap()
        try:
            with pytest.raises(imaplib.IMAP4.error, match="Temporary server problem"):
                down.login("alice@example.com", PASSWORD)
        finally:
            close(down)
    finally:
        if proxy is not None:
            proxy.stop()
        for node in (a, b):
            node.stop()
