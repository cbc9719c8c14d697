"""DKIM key pairs for the configuration: generation (RSA 2048, Ed25519), selectors, rotation.

The one service the admin, the API and ``manage.py dkimkey`` call to make a key.
A rotation adds a new key with a new selector and deactivates the old ones; old
rows stay (and their records should stay published) until an admin deletes them.
The engine reads the keys through ``agents.config.mailauth`` (``agents.mailauth.keys``).
"""

from __future__ import annotations

import base64
import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.db import transaction
from django.utils import timezone

from .models import DkimKey, Domain

RSA_BITS = 2048


def generate(algorithm: str = "rsa") -> tuple[str, str]:
    """A new key pair as (private key text, public key base64 for p=)."""
    if algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
        seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(seed).decode(), base64.b64encode(public).decode()
    if algorithm != "rsa":
        raise ValueError(f"unknown DKIM algorithm {algorithm!r} (rsa or ed25519)")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    der = rsa_key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode(), base64.b64encode(der).decode()


def new_selector(existing: set[str], algorithm: str, now: datetime.datetime | None = None) -> str:
    """A selector not in ``existing``: ``mail<yyyymm>`` (``ed`` suffix for Ed25519), numbered if taken."""
    now = now or timezone.now()
    base = f"mail{now:%Y%m}" + ("ed" if algorithm == "ed25519" else "")
    selector, n = base, 1
    while selector in existing:
        n += 1
        selector = f"{base}-{n}"
    return selector


def create_key(domain: Domain, algorithm: str = "rsa", rotate: bool = False) -> DkimKey:
    """Make a key for ``domain``. Without ``rotate`` an existing active key of the same
    algorithm is returned as it is; with it, the new key replaces the active ones."""
    with transaction.atomic():
        current = DkimKey.objects.filter(domain=domain, active=True, algorithm=algorithm).first()
        if current is not None and not rotate:
            return current
        private, public = generate(algorithm)
        existing = set(DkimKey.objects.filter(domain=domain).values_list("selector", flat=True))
        if rotate:
            DkimKey.objects.filter(domain=domain, active=True, algorithm=algorithm).update(active=False)
        return DkimKey.objects.create(domain=domain, selector=new_selector(existing, algorithm),
                                      algorithm=algorithm, private_key=private, public_key=public)


TXT_STRING_MAX = 255  # one character-string of a TXT record (RFC 1035 §3.3.14)


def key_for_new_domain(domain: Domain) -> DkimKey | None:
    """The first signing key of a just-created domain, unless MAILAPP_DKIM_AUTOGENERATE is off."""
    from django.conf import settings

    if not getattr(settings, "MAILAPP_DKIM_AUTOGENERATE", True):
        return None
    return create_key(domain)


def quoted_txt(value: str) -> str:
    """``value`` as zone-file TXT data: quoted character-strings of at most 255 bytes each.

    A 2048-bit RSA key's record is about 400 bytes; one string cannot hold it (RFC 1035
    §3.3.14), so DNS hosts want it split, and receivers join the strings (RFC 6376 §3.6.2.2).
    """
    data = value.encode()
    chunks = [data[i : i + TXT_STRING_MAX] for i in range(0, len(data), TXT_STRING_MAX)] or [b""]
    return " ".join('"' + c.decode("ascii").replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
