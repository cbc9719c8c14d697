"""Remote delivery (the MTA side): MX routes, then an SMTP client with opportunistic TLS.

One SMTP session per destination domain carries all of its recipients; every
recipient gets its own outcome from its RCPT and DATA replies. Direct delivery
tries the MX hosts in preference order and moves on when a host cannot be
reached or refuses the whole session; a smarthost (``MAILAPP_SMARTHOST``) takes
everything instead. Opportunistic STARTTLS does not verify certificates (RFC
7435); the smarthost's TLS modes do.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from mailcore.addresses import AddressError, normalize_domain

from . import connections, outcome
from .dns import DNSError, routes_for
from .dsn import status_from_reply
from .outcome import Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One place to connect to."""

    host: str  # name, for logs and Remote-MTA
    address: str  # IP address or name to connect to
    port: int
    tls: str  # "opportunistic" | "starttls" (required, verified) | "tls" (implicit) | "none"
    user: str = ""
    password: str = ""


class SessionFailed(Exception):
    """The whole session failed before any recipient got an answer: try the next host."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


def _reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"[:1000]


def _split_hostport(value: str, default_port: int) -> tuple[str, int]:
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        return host, int(port)
    return value, default_port


def targets_for(domain: str) -> list[Target]:
    """Where to connect for ``domain``: the smarthost, or its MX hosts' addresses (raises DNSError)."""
    if settings.MAILAPP_SMARTHOST:
        host, port = _split_hostport(settings.MAILAPP_SMARTHOST, 25)
        mode = settings.MAILAPP_SMARTHOST_TLS
        return [Target(host, host, port, mode if mode in ("none", "starttls", "tls") else "starttls",
                       settings.MAILAPP_SMARTHOST_USER, settings.MAILAPP_SMARTHOST_PASSWORD)]
    port = settings.MAILAPP_REMOTE_SMTP_PORT
    return [Target(route.host, address, port, "opportunistic")
            for route in routes_for(domain) for address in route.addresses]


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _connect(target: Target, use_tls: bool) -> smtplib.SMTP:
    timeout = settings.MAILAPP_SMTP_CLIENT_TIMEOUT
    hostname = settings.MAILAPP_HOSTNAME
    client: smtplib.SMTP
    if target.tls == "tls":
        client = smtplib.SMTP_SSL(local_hostname=hostname, timeout=timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(local_hostname=hostname, timeout=timeout)
    client._host = target.host  # type: ignore[attr-defined]  # smtplib's SNI name for STARTTLS
    try:
        code, message = client.connect(target.address, target.port)
        if code != 220:
            raise SessionFailed(code, _reply_text(code, message))
        client.ehlo_or_helo_if_needed()
        if target.tls == "starttls" or (use_tls and target.tls == "opportunistic"
                                        and client.has_extn("starttls")):
            if target.tls == "starttls" and not client.has_extn("starttls"):
                raise SessionFailed(451, "451 4.7.4 smarthost does not offer STARTTLS")
            context = ssl.create_default_context() if target.tls == "starttls" else _unverified_context()
            code, message = client.starttls(context=context)
            client.ehlo()
        if target.user:
            client.login(target.user, target.password)
    except Exception:
        connections.close(client)
        raise
    return client


def ascii_domain(address: str) -> str:
    """``address`` with its domain in IDNA A-labels (the local part as it is)."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{normalize_domain(domain)}"
    except AddressError:
        return address


def _transaction(client: smtplib.SMTP, target: Target, raw: bytes, sender: str, recipients: list[str],
                 before_data: Callable[[list[str]], None]) -> dict[str, Outcome]:
    """MAIL, RCPT for each recipient, DATA; an outcome for every recipient."""
    results: dict[str, Outcome] = {}
    wire = {rcpt: ascii_domain(rcpt) for rcpt in recipients}  # what RCPT TO says
    sender_wire = ascii_domain(sender)
    options = []
    if client.has_extn("size"):
        options.append(f"SIZE={len(raw)}")
    if client.has_extn("8bitmime") and any(b > 127 for b in raw[:1_000_000]):
        options.append("BODY=8BITMIME")
    if not (sender_wire + "".join(wire.values())).isascii():
        if not client.has_extn("smtputf8"):
            raise SessionFailed(553, "553 5.6.7 the remote host does not accept internationalised addresses")
        options.append("SMTPUTF8")
    code, message = client.mail(sender_wire, options)
    if code != 250:
        raise SessionFailed(code, _reply_text(code, message))
    accepted = []
    for rcpt in recipients:
        code, message = client.rcpt(wire[rcpt])
        reply = _reply_text(code, message)
        if code in (250, 251):
            accepted.append(rcpt)
        else:
            results[rcpt] = _from_reply(code, reply, target.host)
    if not accepted:
        client.rset()
        return results
    before_data(accepted)
    try:
        code, message = client.data(raw)
    except smtplib.SMTPDataError as exc:
        code, message = exc.smtp_code, bytes(exc.smtp_error) if isinstance(exc.smtp_error, bytes) else str(
            exc.smtp_error).encode()
    reply = _reply_text(code, message)
    for rcpt in accepted:
        results[rcpt] = _from_reply(code, reply, target.host)
    return results


def _from_reply(code: int, reply: str, host: str) -> Outcome:
    """The outcome a reply means: 2xx delivered (relayed), 4xx deferred, anything else bounced."""
    detail = f"{host} said: {reply}"
    if 200 <= code < 300:
        return outcome.delivered(detail, event="relayed", remote_host=host, remote_reply=reply)
    if 400 <= code < 500:
        return outcome.deferred(status_from_reply(code, reply[4:], "4.0.0"), detail, remote_host=host,
                                remote_reply=reply)
    return outcome.bounced(status_from_reply(code, reply[4:], "5.0.0"), detail, remote_host=host, remote_reply=reply)


def deliver_domain(raw: bytes, sender: str, domain: str, recipients: list[str],
                   before_data: Callable[[list[str]], None] = lambda _r: None) -> dict[str, Outcome]:
    """Send ``raw`` to ``recipients`` (all at ``domain``) and return an outcome for each.

    ``before_data`` is called with the accepted recipients just before DATA, so the
    caller can mark them "in doubt" until the outcome is recorded.
    """
    try:
        targets = targets_for(ascii_domain("x@" + domain).rpartition("@")[2])
    except DNSError as exc:
        make = outcome.deferred if exc.temporary else outcome.bounced
        return {r: make(exc.status, str(exc)) for r in recipients}
    last = outcome.deferred("4.4.1", f"{domain}: no host to try")
    for target in targets:
        key = (target.address, target.port, target.tls, target.user)
        for use_tls in (True, False):
            client = connections.cache.take(key) if use_tls else None
            if client is None:
                try:
                    client = _connect(target, use_tls)
                except ssl.SSLError as exc:
                    if target.tls == "opportunistic" and use_tls:
                        log.info("TLS with %s failed (%s); retrying in clear", target.host, exc)
                        continue  # opportunistic: fall back to plain text once
                    last = outcome.deferred("4.7.5", f"{target.host}: TLS failed: {exc}", remote_host=target.host)
                    break
                except SessionFailed as exc:
                    make = outcome.bounced if 500 <= exc.code < 600 and settings.MAILAPP_SMARTHOST else outcome.deferred
                    last = make(status_from_reply(exc.code, exc.text[4:], "4.0.0"), f"{target.host} said: {exc.text}",
                                remote_host=target.host, remote_reply=exc.text)
                    break
                except smtplib.SMTPAuthenticationError as exc:
                    last = outcome.deferred("4.7.8", f"{target.host}: authentication failed: {exc}",
                                            remote_host=target.host)
                    break
                except (OSError, smtplib.SMTPException, ValueError) as exc:
                    last = outcome.deferred(
                        "4.4.1", f"connect to {target.host}[{target.address}]:{target.port}: {exc}",
                        remote_host=target.host)
                    break
            try:
                results = _transaction(client, target, raw, sender, recipients, before_data)
            except SessionFailed as exc:
                connections.cache.forget(client)
                connections.close(client)
                make = outcome.bounced if 500 <= exc.code < 600 else outcome.deferred
                last = make(status_from_reply(exc.code, exc.text[4:], "4.0.0"), f"{target.host} said: {exc.text}",
                            remote_host=target.host, remote_reply=exc.text)
                if make is outcome.bounced:
                    return {r: last for r in recipients}
                break
            except (OSError, smtplib.SMTPException) as exc:
                connections.cache.forget(client)
                connections.close(client)
                last = outcome.deferred("4.4.2", f"{target.host}: lost connection: {exc}", remote_host=target.host)
                break
            connections.cache.give_back(key, client)
            return results
    return {r: last for r in recipients}
