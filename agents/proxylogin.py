"""The one-time credential a mail proxy hands the home node instead of the user's password.

nginx's mail proxy logs in to the backend again after its ``auth_http`` server said yes. Passing the
user's password through would make the home node hash it a second time (its credential cache is
its own), so the auth_http endpoint answers ``Auth-Pass`` with a short-lived token instead: an HMAC,
under the secret every node shares (``MAILAPP_SECRET_KEY``), of the mailbox, the service, an expiry
and a digest of the mailbox's stored password hash. The backend accepts it only on a connection
from a trusted proxy address (``MAILAPP_TRUSTED_PROXIES``), checks it with one HMAC and one
primary-key read, and a password change made after it was issued voids it.

Pure (no Django): the secret, the clock and the stored hash's digest are arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import time

PREFIX = "mailapp-proxy.1."
LIFETIME = 20.0  # seconds: nginx uses it within milliseconds of the answer


def _mac(secret: str, address: str, service: str, expiry: int, stamp: str) -> str:
    message = "\0".join(("mailapp-proxy-login", address.lower(), service, str(expiry), stamp)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def issue(secret: str, address: str, service: str, stamp: str, now: float | None = None) -> str:
    """A token for ``address`` (canonical) and ``service`` (imap, pop3, smtp), valid LIFETIME seconds."""
    expiry = int((time.time() if now is None else now) + LIFETIME)
    return f"{PREFIX}{expiry}.{_mac(secret, address, service, expiry, stamp)}"


def looks_like(password: str) -> bool:
    return password.startswith(PREFIX) and len(password) < 120


def verify(secret: str, token: str, address: str, service: str, stamp: str, now: float | None = None) -> bool:
    """Whether ``token`` was issued for this mailbox, service and stored password, and is current."""
    if not looks_like(token):
        return False
    expiry_text, _, mac = token[len(PREFIX):].partition(".")
    if not expiry_text.isdigit() or len(expiry_text) > 12:
        return False
    expiry = int(expiry_text)
    current = time.time() if now is None else now
    if expiry < current or expiry > current + LIFETIME + 5:  # expired, or not one we would issue
        return False
    return hmac.compare_digest(mac, _mac(secret, address, service, expiry, stamp))
