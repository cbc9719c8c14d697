"""The self-test: one real message through every hop, each hop timed, the first failure named.

Used by ``manage.py selftest`` and the Health page's button. Hops, in order:

1. ``mailbox``: the self-test mailbox ``selftest@<domain>`` (made on demand; its random
   password is kept in ``$MAILAPP_HOME/selftest.secret``, mode 0600);
2. ``submission``: SMTP on the submission port with STARTTLS and AUTH, as a mail client;
3. ``queue``: the queue row of that message;
4. ``dkim``: a copy signed with the domain's key and verified against its DNS record
   (skipped, with the reason, when the domain has no key);
5. ``delivery``: the recipient row reaches "delivered";
6. ``imap`` and ``pop3``: real clients over loopback to the configured ports find it;
7. ``webmail``: the message rendered through the webmail's own views (login, message page);
8. ``bounce``: a message to an unknown remote user comes back as a bounce, where a loopback
   path is set up (``MAILAPP_SELFTEST_BOUNCE_TO``); otherwise a "not configured" line.

Hops after the first failure are not run (they would only fail for the same reason).
"""

from __future__ import annotations

import imaplib
import poplib
import secrets
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from django.conf import settings

from agents.models import QueueMessage, QueueRecipient
from mailcore.durable import write_fsynced
from webadmin import services
from webadmin.models import Domain, Mailbox

LOCAL_PART = "selftest"
WAIT = 30.0  # seconds a hop may wait for the engine (queue row, delivery, bounce)
POLL = 0.1


class HopFailed(Exception):
    """A hop did not work; the message says why, for an admin."""


class HopSkipped(Exception):
    """A hop that cannot run here (not configured); the message says why."""


@dataclass
class Hop:
    name: str
    status: str  # "ok", "failed", "skipped", "not run"
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Report:
    hops: list[Hop] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(h.status in ("ok", "skipped") for h in self.hops)

    @property
    def failed(self) -> Hop | None:
        return next((h for h in self.hops if h.status == "failed"), None)

    def lines(self) -> list[str]:
        out = []
        for hop in self.hops:
            timing = f"{hop.seconds * 1000:7.0f} ms" if hop.status in ("ok", "failed") else " " * 10
            out.append(f"{hop.status.upper():8} {hop.name:11} {timing}  {hop.detail}".rstrip())
        return out


def _host() -> str:
    """Where the agents listen, seen from this host: loopback unless bound to one other address."""
    bind = str(settings.MAILAPP_BIND).split(",")[0].strip()
    return "127.0.0.1" if bind in ("", "0.0.0.0", "::", "localhost") else bind


def _tls() -> ssl.SSLContext:
    # The appliance's own certificate may be self-signed: the hop checks the path, not the PKI.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _wait(what: str, probe: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise HopFailed(f"{what} within {timeout:.0f} s")
        time.sleep(POLL)


class SelfTest:
    def __init__(self, domain: str | None = None, bounce_to: str | None = None, wait: float = WAIT) -> None:
        self.domain_name = domain
        self.wait = wait  # seconds each engine hop may take (the web button uses less: a worker has a timeout)
        self.bounce_to = bounce_to if bounce_to is not None else str(settings.MAILAPP_SELFTEST_BOUNCE_TO)
        self.host = _host()
        self.token = uuid.uuid4().hex[:12]
        self.address = ""
        self.password = ""
        self.message_id = ""
        self.queue_id = ""
        self.imap_uid = 0

    # --- the run ---------------------------------------------------------------------------------
    def run(self) -> Report:
        report = Report()
        hops: list[tuple[str, Callable[[], str]]] = [
            ("mailbox", self.mailbox), ("submission", self.submission), ("queue", self.queue),
            ("dkim", self.dkim), ("delivery", self.delivery), ("imap", self.imap), ("pop3", self.pop3),
            ("webmail", self.webmail), ("bounce", self.bounce),
        ]
        failed = False
        for name, step in hops:
            if failed:
                report.hops.append(Hop(name, "not run", detail="after the failure above"))
                continue
            start = time.monotonic()
            try:
                detail = step()
                report.hops.append(Hop(name, "ok", time.monotonic() - start, detail))
            except HopSkipped as exc:
                report.hops.append(Hop(name, "skipped", detail=str(exc)))
            except HopFailed as exc:
                report.hops.append(Hop(name, "failed", time.monotonic() - start, str(exc)))
                failed = True
            except (OSError, smtplib.SMTPException, imaplib.IMAP4.error, poplib.error_proto) as exc:
                report.hops.append(Hop(name, "failed", time.monotonic() - start, f"{type(exc).__name__}: {exc}"))
                failed = True
        return report

    # --- the hops --------------------------------------------------------------------------------
    def mailbox(self) -> str:
        domains = Domain.objects.filter(active=True).order_by("name")
        domain = domains.filter(name=self.domain_name).first() if self.domain_name else domains.first()
        if domain is None:
            raise HopFailed(f"no active domain {self.domain_name or ''}".rstrip() + ": add one first")
        self.address = f"{LOCAL_PART}@{domain.name}"
        secret = Path(settings.MAILAPP_HOME) / "selftest.secret"
        mailbox = Mailbox.objects.filter(domain=domain, local_part=LOCAL_PART).first()
        stored = secret.read_text().strip() if secret.exists() else ""
        if mailbox is None or not stored or not mailbox.check_password(stored):
            stored = secrets.token_urlsafe(24)
            write_fsynced(secret, stored.encode(), 0o600)
            if mailbox is None:
                services.create_mailbox(self.address, stored, name="Self-test")
                made = "made"
            else:
                services.set_mailbox_password(mailbox, stored)
                made = "password renewed"
        else:
            made = "exists"
        self.password = stored
        return f"{self.address} ({made})"

    def _send(self, to: str, subject: str) -> str:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.address, to, subject
        message_id = make_msgid(domain=self.address.rsplit("@", 1)[1])
        message["Message-ID"] = message_id
        message.set_content(f"Self-test {self.token}: this message checks every hop of the appliance.\n")
        # Known agents pick up a new mailbox within 2 s (DESIGN §3): retry AUTH for that long.
        deadline = time.monotonic() + 5.0
        while True:
            with smtplib.SMTP(self.host, int(settings.MAILAPP_SUBMISSION_PORT), timeout=30) as client:
                client.starttls(context=_tls())
                try:
                    client.login(self.address, self.password)
                except smtplib.SMTPAuthenticationError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
                    continue
                refused = client.send_message(message)
            if refused:
                raise HopFailed(f"refused: {refused}")
            return message_id.strip("<>")

    def submission(self) -> str:
        self.message_id = self._send(self.address, f"Self-test {self.token}")
        return f"accepted on port {settings.MAILAPP_SUBMISSION_PORT} with STARTTLS and AUTH"

    def queue(self) -> str:
        row = _wait("no queue row for the message",
                    lambda: QueueMessage.objects.filter(message_id__contains=self.message_id).first(), self.wait)
        assert isinstance(row, QueueMessage)
        self.queue_id = row.queue_id
        return f"queue id {row.queue_id}"

    def dkim(self) -> str:
        import dkim as dkimpy

        from agents.mailauth import dkim, keys

        domain = self.address.rsplit("@", 1)[1]
        signing = keys.signing_keys(domain)
        record = keys.dns_record(domain)
        if not signing or record is None:
            raise HopSkipped(f"{domain} has no DKIM key (Domains → DKIM to make one)")
        copy = (f"From: {self.address}\r\nTo: {self.address}\r\nSubject: Self-test {self.token}\r\n"
                f"Message-ID: <{self.message_id}>\r\n\r\nDKIM check {self.token}\r\n").encode()
        signed = dkim.sign(copy, signing[0])
        txt = record[1].encode()
        if not dkimpy.DKIM(signed).verify(dnsfunc=lambda name, timeout=5: txt):
            raise HopFailed(f"a copy signed with selector {signing[0].selector} does not verify against its record")
        return f"signed with {signing[0].selector}._domainkey.{domain} and verified"

    def delivery(self) -> str:
        _wait("the message was not delivered to the self-test mailbox",
              lambda: QueueRecipient.objects.filter(message_id=self.queue_id, address__iexact=self.address,
                                                    state=QueueRecipient.DELIVERED).exists(), self.wait)
        return f"in the mailbox of {self.address}"

    def imap(self) -> str:
        client = imaplib.IMAP4(self.host, int(settings.MAILAPP_IMAP_PORT), timeout=30)
        try:
            client.starttls(ssl_context=_tls())
            client.login(self.address, self.password)
            client.select("INBOX", readonly=True)
            _typ, data = client.uid("SEARCH", "HEADER", "Message-ID", self.message_id)
            uids = (data[0] or b"").split()
            if not uids:
                raise HopFailed("IMAP login worked but the message is not in INBOX")
            self.imap_uid = int(uids[-1])
            client.logout()
        finally:
            client.shutdown() if client.state != "LOGOUT" else None
        return f"UID {self.imap_uid} in INBOX on port {settings.MAILAPP_IMAP_PORT}"

    def pop3(self) -> str:
        client = poplib.POP3(self.host, int(settings.MAILAPP_POP3_PORT), timeout=30)
        try:
            client.stls(context=_tls())
            client.user(self.address)
            client.pass_(self.password)
            count = len(client.list()[1])
            for number in range(count, 0, -1):
                headers = b"\n".join(client.top(number, 0)[1]).lower()
                if self.message_id.lower().encode() in headers:
                    client.quit()
                    return f"message {number} of {count} on port {settings.MAILAPP_POP3_PORT}"
            client.quit()
        finally:
            client.close()
        raise HopFailed("POP3 login worked but the message is not in the maildrop")

    def webmail(self) -> str:
        from django.test import Client

        hosts = [h for h in settings.ALLOWED_HOSTS if h != "*" and not h.startswith(".")]
        browser = Client(REMOTE_ADDR="127.0.0.1", HTTP_HOST=hosts[0] if hosts else "localhost")
        login = browser.post("/mail/login/", {"address": self.address, "password": self.password}, secure=True)
        if login.status_code != 302:
            raise HopFailed(f"webmail login answered {login.status_code}")
        page = browser.get(f"/mail/message/{self.imap_uid}/", {"folder": "INBOX"}, secure=True)
        if page.status_code != 200 or self.token not in page.content.decode("utf-8", "replace"):
            raise HopFailed(f"the webmail message page answered {page.status_code} without the message")
        browser.post("/mail/logout/", secure=True)
        return "rendered by /mail/message/"

    def bounce(self) -> str:
        if not self.bounce_to:
            raise HopSkipped("not configured: set MAILAPP_SELFTEST_BOUNCE_TO to an unknown user at a "
                             "remote domain whose MX refuses it (a loopback test path)")
        bounced_id = self._send(self.bounce_to, f"Self-test bounce {self.token}")

        def came_back() -> bool:
            row = QueueMessage.objects.filter(message_id__contains=bounced_id).first()
            if row is None:
                return False
            return QueueRecipient.objects.filter(message__parent=row.queue_id, address__iexact=self.address,
                                                 state=QueueRecipient.DELIVERED).exists()

        _wait(f"no bounce for {self.bounce_to} came back to {self.address}", came_back, 2 * self.wait)
        return f"{self.bounce_to} refused; the bounce reached {self.address}"


def run(domain: str | None = None, bounce_to: str | None = None, wait: float = WAIT) -> Report:
    return SelfTest(domain, bounce_to, wait).run()
