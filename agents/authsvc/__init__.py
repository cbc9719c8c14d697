"""Mail-protocol logins: checked by the one auth service, or in this process (the small profile).

Dovecot's model. In the large profile the supervisor runs ``manage.py authd``
(:mod:`agents.authsvc.server`) as a child of its own, and every imap, pop3, smtp and
managesieve process asks it over a Unix socket in ``MAILAPP_HOME``
(``MAILAPP_AUTH_SOCKET``): one verified-credential cache, one hash cap, so a user's password
is hashed once per cache lifetime however many processes serve them. In the small profile
all mail agents share one process, which checks in process (``agents.config.authenticate``).
``MAILAPP_AUTH_SERVICE`` says which (the supervisor sets it for its children).

The login guard (``agents.loginguard``) is asked by the protocol session before this, and by
the service once more just before a hash. If the service cannot answer,
:class:`agents.loginguard.LoginUnavailable` is raised: a temporary failure, never a login.
"""

from __future__ import annotations

import threading

from django.conf import settings

from agents import config
from agents.authcache import login_peer

from .client import AuthClient

_client: AuthClient | None = None
_client_lock = threading.Lock()


def client() -> AuthClient:
    """This process's connections to the auth service (made on first use, after a fork)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = AuthClient(settings.MAILAPP_AUTH_SOCKET, connections=settings.MAILAPP_AUTH_CONNECTIONS,
                                 timeout=settings.MAILAPP_AUTH_TIMEOUT)
        return _client


def authenticate(login: str, password: str, service: config.Service) -> config.MailboxInfo | None:
    """The mailbox if the credentials are right for ``service`` (``agents.config.authenticate``'s contract).

    Blocking. Raises LoginUnavailable when the auth service is in use and cannot answer.
    """
    if not settings.MAILAPP_AUTH_SERVICE:
        return config.authenticate(login, password, service)
    if not login or not password or len(login) >= 320 or len(password) >= 1024:
        return None  # never a login; the service would say the same
    answer = client().call({"op": "auth", "login": login, "password": password, "service": service,
                            "peer": login_peer.get()})
    mailbox = answer.get("mailbox")
    return config.MailboxInfo(*mailbox) if mailbox else None
