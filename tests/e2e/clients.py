"""What an outsider uses against the appliance: the REST API, IMAP, POP3, SMTP, swaks, a browser session.

Every helper takes the running :class:`~tests.e2e.conftest.Appliance` and talks
to it over loopback only; nothing here touches the appliance's database or files.
"""

from __future__ import annotations

import email
import imaplib
import poplib
import re
import smtplib
import subprocess
import time
import uuid

import requests

from tests.e2e.conftest import Appliance, client_tls, wait_for

PASSWORD = "e2e mail password 1"
DELIVERY_TIMEOUT = 30.0  # accepted → visible in IMAP; normally well under a second


# --- provisioning -----------------------------------------------------------------------

class Api:
    """A provisioning script: ``Authorization: Token …`` against /api/v1/."""

    def __init__(self, appliance: Appliance, token: str) -> None:
        self.base = appliance.url + "/api/v1/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def post(self, path: str, body: dict) -> dict:
        response = self.session.post(self.base + path, json=body, timeout=30)
        assert response.status_code == 201, (path, response.status_code, response.text)
        return response.json()

    def patch(self, path: str, body: dict) -> dict:
        response = self.session.patch(self.base + path, json=body, timeout=30)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def get(self, path: str) -> dict:
        response = self.session.get(self.base + path, timeout=30)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def domain_with_mailboxes(self, domain: str, *locals_: str) -> list[dict]:
        self.post("domains/", {"name": domain})
        return [self.post("mailboxes/", {"address": f"{lp}@{domain}", "password": PASSWORD}) for lp in locals_]


# --- messages ---------------------------------------------------------------------------

def new_message_id(tag: str) -> str:
    return f"<{tag}.{uuid.uuid4().hex[:12]}@e2e.test>"


def message(sender: str, to: str, subject: str, message_id: str, body: str = "Hello from the e2e tests.") -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
        f"Date: Mon, 23 Nov 2026 12:00:00 +0000\r\n\r\n{body}\r\n"
    ).encode()


def swaks(appliance: Appliance, *args: str) -> subprocess.CompletedProcess:
    """The swaks command line (a real SMTP client) against the appliance, 30 s at most."""
    return subprocess.run(["swaks", "--server", "127.0.0.1", *args], capture_output=True, timeout=30, text=True)


# --- reading ----------------------------------------------------------------------------

def imap_login(appliance: Appliance, address: str, password: str = PASSWORD) -> imaplib.IMAP4:
    """IMAP on the plain port, upgraded with STARTTLS (self-signed: not verified), then LOGIN."""
    client = imaplib.IMAP4("127.0.0.1", appliance.ports["IMAP"], timeout=30)
    try:
        client.starttls(ssl_context=client_tls())
        client.login(address, password)
    except BaseException:
        client.file.close()  # a refused login must not leave the connection to the garbage collector
        client.sock.close()
        raise
    return client


def message_ids(client: imaplib.IMAP4, folder: str = "INBOX") -> dict[int, str]:
    """UID → Message-ID of every message in ``folder`` (headers only, nothing marked read)."""
    status, _ = client.select(f'"{folder}"', readonly=True)
    if status != "OK":  # a folder a filter makes on its first delivery may not be there yet
        return {}
    status, data = client.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    assert status == "OK", data
    found: dict[int, str] = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid = re.search(rb"UID (\d+)", item[0])
        headers = email.message_from_bytes(item[1])
        if uid and headers["Message-ID"]:
            found[int(uid.group(1))] = headers["Message-ID"].strip()
    return found


def wait_for_messages(appliance: Appliance, address: str, wanted: set[str], folder: str = "INBOX",
                      timeout: float = DELIVERY_TIMEOUT) -> dict[int, str]:
    """Poll IMAP until every Message-ID in ``wanted`` is in ``folder``; UID → Message-ID then."""
    client = imap_login(appliance, address)
    try:
        def arrived() -> dict[int, str] | None:
            seen = message_ids(client, folder)
            return seen if wanted <= set(seen.values()) else None

        return wait_for(arrived, timeout, f"{sorted(wanted)} in {address}'s {folder}", every=0.25)
    finally:
        client.logout()


def pop3_login(appliance: Appliance, address: str, password: str = PASSWORD) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", appliance.ports["POP3"], timeout=30)
    client.stls(context=client_tls())
    client.user(address)
    client.pass_(password)
    return client


class Webmail:
    """A browser's session at /mail/: CSRF cookie first, then the login form."""

    def __init__(self, appliance: Appliance) -> None:
        self.base = appliance.url
        self.session = requests.Session()

    def login(self, address: str, password: str = PASSWORD) -> requests.Response:
        self.session.get(self.base + "/mail/login/", timeout=30).raise_for_status()
        return self.session.post(
            self.base + "/mail/login/",
            data={"address": address, "password": password, "csrfmiddlewaretoken": self.session.cookies["csrftoken"]},
            headers={"Referer": self.base + "/mail/login/"}, timeout=30,
        )

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.base + path, timeout=30)


def staff_session(appliance: Appliance, username: str, password: str) -> requests.Session:
    """A staff member logged in through the /dashboard/login/ form."""
    session = requests.Session()
    session.get(appliance.url + "/dashboard/login/", timeout=30).raise_for_status()
    response = session.post(
        appliance.url + "/dashboard/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": appliance.url + "/dashboard/login/"}, timeout=30, allow_redirects=False,
    )
    assert response.status_code == 302, response.text[-2000:]
    return session


def rcpt_code(appliance: Appliance, rcpt: str, port: str = "SMTP") -> int:
    """The reply code to ``RCPT TO:<rcpt>`` on a new connection to the appliance's ``port``."""
    with smtplib.SMTP("127.0.0.1", appliance.ports[port], timeout=30) as client:
        client.ehlo("probe.remote.test")
        client.mail("probe@remote.test")
        return client.rcpt(rcpt)[0]


def every_smtp_process_accepts(appliance: Appliance, rcpt: str) -> bool:
    """True when 24 connections in a row get 250 at RCPT. The large profile runs several smtp processes
    on one port (SO_REUSEPORT spreads connections by their random source port), each reloading the
    configuration on its own: one 250 says only that the process the kernel chose knows ``rcpt``, and
    the next connection (a submission) may reach one that does not yet. A lagging process is missed
    by 24 connections in a row once in 2**24 tries."""
    return all(rcpt_code(appliance, rcpt) == 250 for _ in range(24))


def seconds_since(start: float) -> float:
    return time.monotonic() - start
