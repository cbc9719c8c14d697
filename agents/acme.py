"""Certificates from an ACME CA (RFC 8555), proved with HTTP-01 on the web port.

Off until ``MAILAPP_ACME_DIRECTORY`` is set. :func:`renew` (Celery beat, and the
dashboard's button through the same task) asks for a certificate for
``MAILAPP_HOSTNAME`` when there is none from the CA yet or when the one there
expires within ``MAILAPP_ACME_RENEW_DAYS``. The CA fetches
``http://<host>/.well-known/acme-challenge/<token>``; the web face answers from the
token files written here (the worker and the web server are different processes).
The key and full chain replace ``MAILAPP_TLS_KEY``/``MAILAPP_TLS_CERT``, which every
listener uses and reloads on its next handshake (:mod:`agents.tls`). The last
outcome is kept in ``status.json`` for Health.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from agents.tls import write_atomically
from mailcore.acmetokens import challenge_dir

log = logging.getLogger(__name__)

ORDER_DEADLINE = datetime.timedelta(seconds=120)
NETWORK_TIMEOUT = 30


class AcmeError(Exception):
    """The CA refused or failed; the message is the sentence Health shows."""


@dataclass(frozen=True)
class AcmeConfig:
    directory: str  # the CA's directory URL
    email: str
    hostname: str
    state_dir: Path  # account key, challenge tokens, status
    cert_path: Path
    key_path: Path
    ca_bundle: str = ""  # trust for the CA's own HTTPS (Pebble, a private CA); "" = the system's
    renew_days: int = 30

    @classmethod
    def from_settings(cls) -> AcmeConfig:
        from django.conf import settings

        return cls(
            directory=settings.MAILAPP_ACME_DIRECTORY,
            email=settings.MAILAPP_ACME_EMAIL,
            hostname=settings.MAILAPP_HOSTNAME.rstrip(".").lower(),
            state_dir=Path(settings.MAILAPP_ACME_DIR),
            cert_path=Path(settings.MAILAPP_TLS_CERT),
            key_path=Path(settings.MAILAPP_TLS_KEY),
            ca_bundle=settings.MAILAPP_ACME_CA_BUNDLE,
            renew_days=settings.MAILAPP_ACME_RENEW_DAYS,
        )

    @property
    def challenge_dir(self) -> Path:
        return challenge_dir(self.state_dir)


# --- status for Health -------------------------------------------------------------------


def _status_path(state_dir: Path) -> Path:
    return state_dir / "status.json"


def last_status(state_dir: Path | None = None) -> dict[str, Any]:
    """The last run's outcome: ``{"state": "issued"|"failed", "note": …, "when": ISO time}``, or {}."""
    if state_dir is None:
        state_dir = AcmeConfig.from_settings().state_dir
    try:
        return dict(json.loads(_status_path(state_dir).read_text()))
    except (OSError, ValueError):
        return {}


def _record(config: AcmeConfig, state: str, note: str) -> dict[str, Any]:
    status = {"state": state, "note": note, "when": datetime.datetime.now(datetime.UTC).isoformat()}
    config.state_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(_status_path(config.state_dir), json.dumps(status).encode(), 0o644)
    return status


# --- when to ask ------------------------------------------------------------------------------


def due(config: AcmeConfig, now: datetime.datetime | None = None) -> str | None:
    """Why a certificate should be requested now, or None when the current one is fine.

    Due when there is none, when it is self-signed (the appliance's first-start one),
    when it does not name the host, or when it expires within ``renew_days``.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    try:
        cert = x509.load_pem_x509_certificate(config.cert_path.read_bytes())
    except (OSError, ValueError):
        return "no certificate yet"
    if cert.issuer == cert.subject:
        return "the certificate is self-signed"
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    if config.hostname not in [n.lower() for n in names]:
        return f"the certificate does not name {config.hostname}"
    left = cert.not_valid_after_utc - now
    if left <= datetime.timedelta(days=config.renew_days):
        return f"the certificate expires in {max(0, left.days)} days"
    return None


# --- the protocol -----------------------------------------------------------------------------


def _account_key(config: AcmeConfig) -> Any:
    import josepy

    path = config.state_dir / "account.pem"
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        config.state_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(path, pem, 0o600)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return josepy.JWKRSA(key=loaded)


def _client(config: AcmeConfig) -> Any:
    from acme import client, errors, messages

    net = client.ClientNetwork(_account_key(config), user_agent="mailappliance", timeout=NETWORK_TIMEOUT)
    if config.ca_bundle:
        net.verify_ssl = config.ca_bundle  # type: ignore[assignment]  # requests takes a CA bundle path here
    directory = client.ClientV2.get_directory(config.directory, net)
    acme = client.ClientV2(directory, net)
    contact = (f"mailto:{config.email}",) if config.email else ()
    try:
        acme.new_account(messages.NewRegistration(contact=contact, terms_of_service_agreed=True))
    except errors.ConflictError as exc:  # the key is registered already: use that account
        acme.query_registration(messages.RegistrationResource(uri=exc.location, body=messages.Registration()))
    return acme


def issue(config: AcmeConfig) -> x509.Certificate:
    """Order a certificate for ``config.hostname``, prove it with HTTP-01, install key and chain.

    Raises AcmeError (or the acme library's errors) when the CA refuses or times out.
    """
    from acme import challenges, crypto_util

    acme = _client(config)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    order = acme.new_order(crypto_util.make_csr(key_pem, [config.hostname]))
    config.challenge_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for authz in order.authorizations:
            if authz.body.status.name == "valid":
                continue  # proved recently; the CA remembers
            http01 = [c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)]
            if not http01:
                raise AcmeError(f"the CA offers no HTTP-01 challenge for {authz.body.identifier.value}")
            response, validation = http01[0].response_and_validation(acme.net.key)
            token_file = config.challenge_dir / http01[0].chall.encode("token")
            write_atomically(token_file, validation.encode(), 0o644)
            written.append(token_file)
            acme.answer_challenge(http01[0], response)
        deadline = datetime.datetime.now() + ORDER_DEADLINE
        done = acme.poll_and_finalize(order, deadline)
    finally:
        for token_file in written:
            token_file.unlink(missing_ok=True)
    chain = done.fullchain_pem.encode()
    cert = x509.load_pem_x509_certificate(chain)
    config.cert_path.parent.mkdir(parents=True, exist_ok=True)
    # Key first, then chain: a listener that reloads between the two sees a mismatch and keeps its
    # current pair until both files are new (agents.tls.ReloadingContext).
    write_atomically(config.key_path, key_pem, 0o600)
    write_atomically(config.cert_path, chain, 0o644)
    return cert


def renew(config: AcmeConfig | None = None, force: bool = False,
          now: datetime.datetime | None = None) -> dict[str, Any]:
    """Ask for a certificate when :func:`due` says so (or ``force``); record and return the outcome.

    One run at a time (a lock file): beat and the dashboard's button may meet.
    """
    config = config or AcmeConfig.from_settings()
    if not config.directory:
        return {"state": "off", "note": "MAILAPP_ACME_DIRECTORY is not set"}
    config.state_dir.mkdir(parents=True, exist_ok=True)
    with open(config.state_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        reason = due(config, now)
        if reason is None and not force:
            return {"state": "not due", "note": "the certificate is valid for more than "
                                                f"{config.renew_days} days"}
        try:
            cert = issue(config)
        except Exception as exc:  # every failure is shown on Health, whatever raised it
            log.warning("ACME: no certificate for %s: %s", config.hostname, exc)
            return _record(config, "failed", _describe(exc))
        expires = cert.not_valid_after_utc
        log.info("ACME: new certificate for %s, valid until %s", config.hostname, expires)
        return _record(config, "issued", f"for {config.hostname}, valid until {expires:%Y-%m-%d} "
                                         f"({reason or 'asked for'})")


def _describe(exc: Exception) -> str:
    """A sentence for Health: the CA's problem detail when there is one."""
    detail = getattr(exc, "detail", None) or getattr(getattr(exc, "error", None), "detail", None)
    text = str(detail or exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"[:500]
