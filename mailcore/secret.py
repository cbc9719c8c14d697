"""Passwords of external sources, encrypted at rest (Fernet; key derived from SECRET_KEY by HKDF).

The fetcher must send the clear password, so it is encrypted rather than hashed.
The caller passes the secret (Django's ``SECRET_KEY``): nothing here imports Django.
Changing SECRET_KEY makes stored passwords unreadable: the source then reports
"password cannot be decrypted, set it again".
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"mailappliance external source password v1"


@functools.lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(password: str, secret: str) -> str:
    """The Fernet token (ASCII) for ``password`` under a key derived from ``secret`` (SECRET_KEY)."""
    return _fernet(secret).encrypt(password.encode("utf-8")).decode("ascii")


def decrypt(token: str, secret: str) -> str:
    """The clear password; ValueError if the token is empty or was made with another key."""
    if not token:
        raise ValueError("no password is set")
    try:
        return _fernet(secret).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise ValueError("the stored password cannot be decrypted (SECRET_KEY changed?): set it again") from exc
