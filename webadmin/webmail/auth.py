"""Webmail sign-in: mail address + mail password, through the login guard, apart from staff accounts.

A webmail session never logs in a Django ``User``: the mailbox is remembered under
its own session key (:data:`SESSION_KEY`), so nothing here can ever grant staff or
admin rights. The session also remembers a digest of the password hash, so a
password change (here, in the admin or through the API) ends every other session.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from agents import config
from agents.cluster.placement import placement, served_elsewhere
from agents.loginguard.db import client_ip as guard_client_ip
from agents.loginguard.db import mail_guard

SESSION_KEY = "webmail_mailbox"
HANDOFF_SALT = "webmail.handoff"
HANDOFF_SECONDS = 30  # a hand-off link is followed by the browser at once: it is void after this
HANDOFF_KEPT_SECONDS = HANDOFF_SECONDS + 120  # a used link is remembered this long (room for nodes' clock skew)


@dataclass(frozen=True)
class WebmailUser:
    """The signed-in mailbox as the views see it."""

    id: int
    address: str
    name: str


# --- session ------------------------------------------------------------------------------


def _password_digest(password_hash: str) -> str:
    """A keyed digest of the stored hash: changes when the password does, reveals nothing."""
    return hmac.new(settings.SECRET_KEY.encode(), password_hash.encode(), hashlib.sha256).hexdigest()


def _stored_hash(mailbox_id: int) -> str | None:
    from webadmin.models import Mailbox

    return Mailbox.objects.filter(pk=mailbox_id).values_list("password", flat=True).first()


def client_ip(request: HttpRequest) -> str:
    return guard_client_ip(request.META)


class LoginRefused(Exception):
    """The sign-in failed; the message is safe to show (it never says which part was wrong)."""

    status = 403


class LoginThrottled(LoginRefused):
    """The login guard refused the attempt (too many recent failures)."""

    status = 429


def log_in(request: HttpRequest, address: str, password: str) -> WebmailUser:
    """Check the credentials (throttled) and bind the mailbox to a fresh session.

    Raises :class:`LoginRefused`. The session key is cycled to defeat fixation.
    """
    ip = client_ip(request)
    address = (address or "").strip()
    if not address or not password:
        raise LoginRefused("Enter your mail address and password.")
    # The login guard decides before the password is hashed; the web answers at once
    # (a sleeping worker would be the guesser's gain), the lockout does the rest.
    attempt = mail_guard().attempt(ip, address, "webmail", lambda: config.authenticate(address, password, "webmail"))
    if attempt.refused:
        raise LoginThrottled("Too many failed attempts. Wait a few minutes and try again.")
    info = attempt.result
    if info is None:
        raise LoginRefused("Wrong address or password, or webmail is not enabled for this mailbox.")
    return _bind(request, info.id, info.address, info.name)


def _bind(request: HttpRequest, info_id: int, address: str, name: str) -> WebmailUser:
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "id": info_id,
        "address": address,
        "name": name,
        "pw": _password_digest(_stored_hash(info_id) or ""),
    }
    return WebmailUser(info_id, address, name)


def home_redirect(request: HttpRequest, user: WebmailUser) -> HttpResponse | None:
    """Cluster mode: send a user signed in here, whose mailbox is homed on another live node, to that
    node's webmail with a hand-off link (so the password is not asked again); None if the mailbox is
    served here, or its home node is down (the caller says so).

    The link is signed with the secret every node shares, names the mailbox, the digest of its
    stored password (a change voids it), the client address it is for and a random nonce (no two
    links are alike), lasts HANDOFF_SECONDS and signs in once (:func:`accept_handoff`)."""
    import secrets
    from urllib.parse import urlencode

    from django.core import signing

    found = placement(user.address)
    if found is None or not found.alive or not found.host or not served_elsewhere(user.address):
        return None
    data = request.session.get(SESSION_KEY) or {}
    target = request.get_full_path() if request.method == "GET" else reverse("webmail:index")
    token = signing.dumps({"id": user.id, "a": user.address, "pw": str(data.get("pw", "")), "ip": client_ip(request),
                           "next": target, "n": secrets.token_urlsafe(12)}, salt=HANDOFF_SALT)
    base = str(settings.MAILAPP_NODE_WEB_URL).format(address=found.host, node=found.node,
                                                     port=settings.MAILAPP_HTTP_PORT).rstrip("/")
    return HttpResponseRedirect(base + reverse("webmail:handoff") + "?" + urlencode({"t": token}))


def accept_handoff(request: HttpRequest, token: str) -> tuple[WebmailUser, str] | None:
    """The mailbox and page a hand-off link from another node signs in to here; None if it is
    forged, expired, for another client address, for a changed password, not homed here, or was
    followed before (a link signs in once: one leaked from a history or a log is worth nothing)."""
    from django.core import signing

    try:
        data = signing.loads(token[:2000], salt=HANDOFF_SALT, max_age=HANDOFF_SECONDS)
    except signing.BadSignature:  # SignatureExpired too
        return None
    if not isinstance(data, dict) or data.get("ip") != client_ip(request):
        return None
    info = config.get_mailbox(str(data.get("a", "")))
    if info is None or info.id != data.get("id") or not info.may_use("webmail") or served_elsewhere(info.address):
        return None
    stored = _stored_hash(info.id)
    if stored is None or not hmac.compare_digest(_password_digest(stored), str(data.get("pw", ""))):
        return None
    if not _first_use(token):
        return None
    target = str(data.get("next") or "")
    if not target.startswith("/mail/") or any(bad in target for bad in ("//", "\\", "..")):
        target = reverse("webmail:index")
    return _bind(request, info.id, info.address, info.name), target


def _first_use(token: str) -> bool:
    """Record ``token`` as used; False if it was already (the row's key is taken, on any node)."""
    import datetime

    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from webadmin.models import WebmailHandoff

    now = timezone.now()
    WebmailHandoff.objects.filter(used__lt=now - datetime.timedelta(seconds=HANDOFF_KEPT_SECONDS)).delete()
    try:
        with transaction.atomic():
            WebmailHandoff.objects.create(digest=hashlib.sha256(token.encode()).hexdigest(), used=now)
    except IntegrityError:
        return False
    return True


def log_out(request: HttpRequest) -> None:
    request.session.flush()


def refresh_password_digest(request: HttpRequest, mailbox_id: int) -> None:
    """Keep this session valid after its own password change (others are ended)."""
    data = dict(request.session.get(SESSION_KEY) or {})
    if data.get("id") == mailbox_id:
        data["pw"] = _password_digest(_stored_hash(mailbox_id) or "")
        request.session[SESSION_KEY] = data
        request.session.cycle_key()


def current_user(request: HttpRequest) -> WebmailUser | None:
    """The mailbox of this session if it still exists, may use webmail and has the same password."""
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        return None
    info = config.get_mailbox(str(data.get("address", "")))
    if info is None or info.id != data["id"] or not info.may_use("webmail"):
        return None
    stored = _stored_hash(info.id)
    if stored is None or not hmac.compare_digest(_password_digest(stored), str(data.get("pw", ""))):
        return None
    return WebmailUser(info.id, info.address, info.name)


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if any(bad in target for bad in ("..", "//", "\\")) or any(ord(ch) < 33 for ch in target):
        return default
    if target.startswith("/mail/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def webmail_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run ``view`` with ``request.webmail_user`` set, or send the visitor to the sign-in page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = current_user(request)
        if user is None:
            if request.session.get(SESSION_KEY):
                request.session.flush()
            login_url = reverse("webmail:login")
            if request.method == "GET":
                from urllib.parse import urlencode

                login_url += "?" + urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(login_url)
        request.webmail_user = user  # type: ignore[attr-defined]
        elsewhere = served_elsewhere(user.address)
        if elsewhere:  # cluster mode: never open (and so make) the store of a mailbox homed on another node
            moved = home_redirect(request, user)  # to the home node's webmail, signed in there
            if moved is not None:
                return moved
            return render(request, "webmail/elsewhere.html", {"reason": elsewhere}, status=503)
        return view(request, *args, **kwargs)

    return wrapper
