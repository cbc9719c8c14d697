"""``/auth/mailproxy``: nginx's ``auth_http`` endpoint, which says where a user's mail lives.

nginx's mail proxy asks this before it connects a client to a backend (``Auth-User``,
``Auth-Pass``, ``Auth-Protocol``, ``Client-IP``, …; user and password percent-encoded). The answer
runs the one login guard and the one password check (``agents.config.authenticate``, whose
verified-credential cache the next login of the same client here hits), and on success names the
user's home node (``agents.cluster.placement``; for SMTP submission, which any node takes, this node
when the home node is down) with ``Auth-Server``/``Auth-Port`` and hands nginx
a one-time ``Auth-Pass`` (``agents.proxylogin``) to log in there with: the home node checks it with
an HMAC, so the password is hashed once per login, here. A failure is ``Auth-Status`` with a
sentence and ``Auth-Wait`` (the guard's delay, or its refusal), which nginx turns into a NO / -ERR
/ 535 after waiting.

Who may ask: when ``MAILAPP_AUTH_HTTP_SECRET`` is set, a request carrying ``X-Auth-Key`` with it
(nginx: ``auth_http_header X-Auth-Key …``); unset, only loopback and ``MAILAPP_TRUSTED_PROXIES``
asking directly (not through an HTTP proxy, and never while ``MAILAPP_HTTPS`` is on).
Anything else is 403, before any header is read: the endpoint is a password oracle otherwise.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import socket
from urllib.parse import unquote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.http import require_GET

from agents import config
from agents.authcache import login_peer
from agents.cluster.placement import placement
from agents.loginguard.db import mail_guard
from agents.proxyprotocol import TrustedProxies

log = logging.getLogger("webadmin.mailproxy")

SERVICES = {"imap": "MAILAPP_IMAP_PORT", "pop3": "MAILAPP_POP3_PORT", "smtp": "MAILAPP_SUBMISSION_PORT"}
METHODS = ("plain", "login")  # nginx says "plain" for LOGIN and AUTH PLAIN/LOGIN alike
MAX_USER, MAX_PASSWORD = 320, 1024  # what the protocol doors accept too
SMTP_CODES = {"auth": "535 5.7.8", "temp": "451 4.3.0", "throttled": "454 4.7.0"}


FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_FORWARDED_PROTO", "HTTP_X_REAL_IP")


def allowed(request: HttpRequest) -> bool:
    """The shared secret when one is set; else a loopback or trusted-proxy client address, asking directly.

    Without a secret the address is all there is, and an HTTP reverse proxy in front of the web makes
    every visitor look like it (loopback, often): so a request that came through one (forwarding
    headers, which nginx's auth_http never sends) or any request while ``MAILAPP_HTTPS`` says a TLS
    proxy serves the web faces, is refused unless it carries the secret."""
    secret = str(settings.MAILAPP_AUTH_HTTP_SECRET or "")
    if secret:
        given = str(request.META.get("HTTP_X_AUTH_KEY", ""))
        return hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode())
    if settings.MAILAPP_HTTPS or any(name in request.META for name in FORWARDED):
        return False
    remote = str(request.META.get("REMOTE_ADDR", ""))
    try:
        if ipaddress.ip_address(remote).is_loopback:
            return True
    except ValueError:
        return False
    return remote in TrustedProxies(settings.MAILAPP_TRUSTED_PROXIES)


def _header(request: HttpRequest, name: str, limit: int) -> str | None:
    """A request header, percent-decoded; None if longer than ``limit`` once decoded (or undecodable)."""
    raw = str(request.META.get("HTTP_" + name.upper().replace("-", "_"), ""))
    if len(raw) > 3 * limit:
        return None
    text = unquote(raw, errors="strict") if "%" in raw else raw
    if len(text) > limit or any(ord(ch) < 32 for ch in text):
        return None
    return text


def _answer(**headers: str) -> HttpResponse:
    response = HttpResponse(b"", content_type="text/plain")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _failure(status: str, service: str, wait: float, code: str) -> HttpResponse:
    headers = {"Auth_Status": status, "Auth_Wait": str(max(1, math.ceil(wait)))}
    if service == "smtp":
        headers["Auth_Error_Code"] = SMTP_CODES[code]
    return _answer(**headers)


def _server_address(host: str) -> str:
    """nginx takes an IP address only: a node address given as a name is resolved here. A wildcard
    (a node bound to 0.0.0.0 without ``MAILAPP_NODE_ADDRESS``) names no host: OSError."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return socket.gethostbyname(host)
    if ip.is_unspecified:
        raise OSError(f"{host} is a wildcard: set MAILAPP_NODE_ADDRESS on that node")
    return str(ip)


@require_GET
def auth_http(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponseForbidden("auth_http: shared secret or trusted proxy address required\n",
                                     content_type="text/plain")
    try:
        service = _header(request, "Auth-Protocol", 10) or ""
        method = (_header(request, "Auth-Method", 20) or "").lower()
        user = _header(request, "Auth-User", MAX_USER)
        password = _header(request, "Auth-Pass", MAX_PASSWORD)
        client = _header(request, "Client-IP", 64) or ""
    except UnicodeDecodeError:
        return _failure("Invalid login or password", "", 2, "auth")
    if service not in SERVICES:
        return _failure("Unknown protocol", "", 1, "auth")
    if method not in METHODS:  # "none" (SMTP without AUTH), "apop", "cram-md5": not through the proxy
        return _failure("Authentication required", service, 1, "auth")
    try:
        client = str(ipaddress.ip_address(client))
    except ValueError:
        client = str(request.META.get("REMOTE_ADDR") or "unknown")
    guard = mail_guard()
    if not user or password is None or not password:
        return _failure("Invalid login or password", service, guard.failed(client, user or "", service), "auth")
    login_peer.set(client)  # an app password's last use records the client, not the proxy
    door: config.Service = "imap" if service == "imap" else "pop3" if service == "pop3" else "smtp"
    attempt = guard.attempt(client, user, service, lambda: config.authenticate(user, password, door))
    if attempt.refused:
        return _failure("Too many failed logins; try again later", service, guard.policy.max_delay, "throttled")
    info = attempt.result
    if info is None:
        return _failure("Invalid login or password", service, attempt.delay, "auth")
    found = placement(info.address)
    host = found.host if found is not None and found.alive else ""
    if not host and service == "smtp":
        host = str(settings.MAILAPP_NODE_ADDRESS)  # submission works on any node: this one is alive
    if not host:
        where = found.node if found is not None else "?"
        log.warning("mail proxy: %s logged in for %s but its home node %s is down", info.address, service, where)
        return _failure("Temporary server problem, try again later", service, 3, "temp")
    try:
        server = _server_address(host)
    except OSError:
        log.error("mail proxy: the node address %r names no host (set MAILAPP_NODE_ADDRESS)", host)
        return _failure("Temporary server problem, try again later", service, 3, "temp")
    return _answer(Auth_Status="OK", Auth_Server=server, Auth_Port=str(getattr(settings, SERVICES[service])),
                   Auth_User=info.address, Auth_Pass=config.proxy_token(info, service))
