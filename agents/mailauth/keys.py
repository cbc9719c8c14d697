"""DKIM keys as the engine uses them: the signing key of a domain, and the record it should publish.

Keys are made by the configuration (``webadmin.dkimkeys``) and read here through
``agents.config.mailauth``, cached until the configuration changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.config import mailauth as mailauth_config


@dataclass(frozen=True)
class SigningKey:
    domain: str
    selector: str
    algorithm: str  # "rsa" | "ed25519"
    private: bytes  # what dkimpy takes: PEM (RSA) or base64 seed (Ed25519)


def signing_keys(domain: str) -> list[SigningKey]:
    """The newest active key of each algorithm for ``domain`` (ASCII), RSA first; none if the domain is inactive."""
    domain = domain.lower()
    keys: dict[str, SigningKey] = {}
    for row in mailauth_config.dkim_keys(domain):
        if row.domain_active and row.algorithm not in keys:
            keys[row.algorithm] = SigningKey(domain, row.selector, row.algorithm, row.private_key.encode())
    return [keys[a] for a in ("rsa", "ed25519") if a in keys]


def dns_record(domain: str) -> tuple[str, str] | None:
    """(selector, TXT value) of the key that signs for ``domain`` now (RSA preferred), or None."""
    rows = mailauth_config.dkim_keys(domain.lower().rstrip("."))
    row = next((r for r in rows if r.algorithm == "rsa"), rows[0] if rows else None)
    return (row.selector, row.dns_value) if row else None
