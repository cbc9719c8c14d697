"""Issue 24, story 5: a mailbox created through node A's API accepts mail on nodes B and C within the
configuration's 2 s, and a password change made on A applies everywhere: nginx asks node B's
``/auth/mailproxy`` (another process, another host's cache), which sends the login to A, the home node,
for IMAP and POP3 alike; the old password is refused, the new one reads the mail B and C took."""

from __future__ import annotations

import imaplib
import json
import poplib
import smtplib
import time
import urllib.request

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from agents.cluster.nodes import renew
from tests.conftest import PASSWORD, free_port, wait_until

from .nodes import Node, cluster_broker, needs_postgres
from .proxy import CLIENT_ADDRESS, Nginx

pytestmark = needs_postgres

SECRET = "auth-http secret of the test cluster"
NEW_PASSWORD = "a brand new password for frank"
# DESIGN §3 promises 2 seconds (the refresh interval that keeps it is asserted in
# tests/config/test_config_cache.py); WITHIN bounds the wait on a busy machine, the delay is printed.
WITHIN = 30.0


def api(node: Node, token: str, method: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"http://{node.address}:{node.env['MAILAPP_HTTP_PORT']}/api/v1/{path}",
                                     data=json.dumps(body).encode(), method=method,
                                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def rcpt_code(node: Node, rcpt: str) -> int:
    # From the clients' address: a connection from nginx's (trusted) address must start with PROXY.
    with smtplib.SMTP(node.address, node.smtp_port, timeout=30, source_address=(CLIENT_ADDRESS, 0)) as client:
        client.ehlo("probe.remote.test")
        client.mail("probe@remote.test")
        return client.rcpt(rcpt)[0]


def every_process_accepts(node: Node, rcpt: str) -> bool:
    """True when 24 connections in a row get 250 at RCPT. A node's smtpd runs two processes on one
    port (SO_REUSEPORT spreads connections by their random source port), and each reloads the
    configuration on its own: one 250 says only that the process the kernel chose has. A process
    still lagging is missed by 24 connections in a row once in 2**24 tries."""
    return all(rcpt_code(node, rcpt) == 250 for _ in range(24))


def imap_reads(proxy: Nginx, password: str) -> int | None:
    """How many messages frank's INBOX holds, read through the proxy; None if the login is refused."""
    client = proxy.imap()
    try:
        try:
            client.login("frank@example.com", password)
        except imaplib.IMAP4.error:
            return None
        status, data = client.select("INBOX", readonly=True)
        assert status == "OK", data
        return int(data[0])
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def pop3_reads(proxy: Nginx, password: str) -> int | None:
    client = proxy.pop3()
    try:
        client.user("frank@example.com")
        try:
            client.pass_(password)
        except poplib.error_proto:
            return None
        count = client.stat()[0]
        client.quit()
        return count
    finally:
        client.close()


def test_a_mailbox_made_on_a_takes_mail_on_b_and_c_and_its_new_password_holds_through_the_proxy(
        transactional_db, make_domain, tmp_path):
    make_domain("example.com")
    staff = get_user_model().objects.create_superuser("admin", "admin@example.com", "x" * 20)
    token = Token.objects.create(user=staff).key
    broker = cluster_broker(tmp_path)
    shared = {"MAILAPP_IMAP_PORT": str(free_port()), "MAILAPP_POP3_PORT": str(free_port()),
              "MAILAPP_HTTP_PORT": str(free_port()), "MAILAPP_SUBMISSION_PORT": str(free_port()),
             "MAILAPP_TRUSTED_PROXIES": "127.0.0.1",
              "MAILAPP_AUTH_HTTP_SECRET": SECRET}
    a = Node("a", "127.0.0.2", tmp_path, broker, **shared)
    b = Node("b", "127.0.0.3", tmp_path, broker, **shared)
    c = Node("c", "127.0.0.4", tmp_path, broker, **shared)
    for node in (a, b, c):
        renew(node.name, node.address, 600, starting=True)  # the supervisors' leases (not run here)
    proxy = None
    try:
        a.web()
        a.worker()
        a.imapd(int(shared['MAILAPP_IMAP_PORT']))
        a.pop3d(int(shared['MAILAPP_POP3_PORT']))
        b.web()
        b.smtpd()
        c.smtpd()
        proxy = Nginx(tmp_path / "nginx", auth_http=f"{b.address}:{shared['MAILAPP_HTTP_PORT']}/auth/mailproxy",
                      secret=SECRET, imap_port=free_port(), pop3_port=free_port(), smtp_port=free_port(),
                      imaps_port=free_port())
        assert rcpt_code(b, "frank@example.com") == 550

        made = api(a, token, "POST", "mailboxes/", {"address": "frank@example.com", "password": PASSWORD})
        saved = time.monotonic()
        for node in (b, c):
            wait_until(lambda node=node: every_process_accepts(node, "frank@example.com"),
                       f"node {node.name} to accept the new mailbox at RCPT", timeout=WITHIN, every=0.05)
        print(f"new mailbox accepted on b and c {time.monotonic() - saved:.2f}s after a's API answered")
        from webadmin.models import Mailbox

        assert Mailbox.objects.get(pk=made["id"]).home_node == "a"

        for node in (b, c):
            with smtplib.SMTP(node.address, node.smtp_port, timeout=30, source_address=(CLIENT_ADDRESS, 0)) as smtp:
                smtp.sendmail("bob@remote.test", ["frank@example.com"],
                              f"From: bob@remote.test\r\nSubject: via {node.name}\r\n\r\nhello\r\n".encode())
        wait_until(lambda: len(a.maildir_files("frank@example.com")) == 2, "both messages on frank's home node a",
                   timeout=60, every=0.1)
        assert imap_reads(proxy, PASSWORD) == 2
        assert pop3_reads(proxy, PASSWORD) == 2

        api(a, token, "PATCH", f"mailboxes/{made['id']}/", {"password": NEW_PASSWORD})
        changed = time.monotonic()
        wait_until(lambda: imap_reads(proxy, NEW_PASSWORD) == 2, "IMAP through the proxy with the new password",
                   timeout=WITHIN, every=0.05)
        print(f"new password accepted through the proxy {time.monotonic() - changed:.2f}s after a's API answered")
        assert imap_reads(proxy, PASSWORD) is None, "the old password still opens IMAP through the proxy"
        assert pop3_reads(proxy, PASSWORD) is None, "the old password still opens POP3 through the proxy"
        assert pop3_reads(proxy, NEW_PASSWORD) == 2
        for node in (b, c):
            assert not (node.home / "mail").exists(), f"node {node.name} stored mail for a mailbox homed on a"
    finally:
        if proxy is not None:
            proxy.stop()
        for node in (a, b, c):
            node.stop()
