"""DKIM (RFC 6376, RFC 8463) with dkimpy: signing outgoing mail, verifying incoming mail.

Signing happens at remote delivery time (``agents.delivery.runner`` calls
:func:`sign_outgoing`): the spool keeps the message as accepted, a key rotated
while a message waits in the queue signs with the new key, and local deliveries
are not signed for nothing. Keys come from ``webadmin.models.DkimKey``; DNS
lookups for verification go through :mod:`agents.mailauth.resolver`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import dkim as dkimpy

from . import resolver
from .keys import SigningKey, dns_record, signing_keys

log = logging.getLogger(__name__)

# Headers signed (From twice: oversigning, so a second From cannot be added unnoticed).
SIGNED_HEADERS = [b"from", b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"reply-to",
                  b"in-reply-to", b"references", b"mime-version", b"content-type", b"content-transfer-encoding",
                  b"list-unsubscribe", b"list-unsubscribe-post"]
MAX_SIGNATURES = 5  # verify at most this many DKIM-Signature fields (hostile mail may carry hundreds)

__all__ = ["DkimResult", "dns_record", "sign", "sign_outgoing", "verify"]


@dataclass(frozen=True)
class DkimResult:
    """One signature's result: pass, fail, neutral (unusable signature), temperror, permerror."""

    result: str
    domain: str  # d=
    selector: str  # s=
    reason: str = ""


def _linesep(raw: bytes) -> bytes:
    first = raw.find(b"\n")
    return b"\r\n" if first > 0 and raw[first - 1 : first] == b"\r" else b"\n"


def sign(raw: bytes, key: SigningKey) -> bytes:
    """``raw`` with a DKIM-Signature by ``key`` on top (relaxed/relaxed, rsa-sha256 or ed25519-sha256)."""
    eol = _linesep(raw)
    header_names = {m.group(1).lower() for m in re.finditer(rb"^([!-9;-~]+):", raw.split(eol + eol, 1)[0], re.M)}
    include = [h for h in SIGNED_HEADERS if h in header_names or h == b"from"]
    signature = dkimpy.sign(
        raw, key.selector.encode(), key.domain.encode(), key.private,
        canonicalize=(b"relaxed", b"relaxed"), include_headers=include, linesep=eol,
        signature_algorithm=b"ed25519-sha256" if key.algorithm == "ed25519" else b"rsa-sha256",
    )
    return signature + raw


def from_domain(raw: bytes) -> str:
    """The domain of the (first) From header, lower case, "" if none can be read."""
    from .message import header_from_domain

    return header_from_domain(raw)


def sign_outgoing(raw: bytes, sender: str = "") -> bytes:
    """Sign mail leaving for a remote host when its From domain (else the envelope sender's
    domain) is a local domain with an active key; otherwise return ``raw`` unchanged.

    Never raises: a signing problem is logged and the mail leaves unsigned rather than not at all.
    """
    try:
        domain = from_domain(raw) or sender.rpartition("@")[2].lower()
        keys = signing_keys(domain) if domain else []
        for key in reversed(keys):  # RSA last, so its signature is on top
            raw = sign(raw, key)
    except Exception:
        log.exception("DKIM signing failed; sending unsigned")
    return raw


def dnsfunc(name: bytes | str, timeout: int = 5) -> bytes:
    """dkimpy's DNS hook: the TXT record of ``name`` through our resolver (b"" if none)."""
    text = name.decode() if isinstance(name, bytes) else name
    try:
        records = resolver.txt(text.rstrip("."))
    except resolver.TempDNSError as exc:
        raise dkimpy.KeyFormatError(f"temporary DNS error: {exc}") from exc
    return records[0] if records else b""


def _tag(signature: bytes, name: bytes) -> str:
    match = re.search(rb"(?:^|;)\s*" + name + rb"\s*=\s*([^;]*)", signature)
    return b"".join(match.group(1).split()).decode("ascii", "replace")[:255] if match else ""


def verify(raw: bytes) -> list[DkimResult]:
    """A result for each DKIM-Signature (up to MAX_SIGNATURES); [] when the message has none."""
    signatures = [m.group(1) for m in re.finditer(rb"^dkim-signature:((?:.*\n)(?:[ \t].*\n)*)",
                                                  raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0] + b"\n",
                                                  re.I | re.M)]
    results = []
    for index, signature in enumerate(signatures[:MAX_SIGNATURES]):
        domain, selector = _tag(signature, b"d").lower(), _tag(signature, b"s")
        checker = dkimpy.DKIM(raw, timeout=5, logger=log)
        found: list[bytes] = []

        def lookup(name: bytes | str, timeout: int = 5, found: list[bytes] = found) -> bytes:
            found.append(dnsfunc(name, timeout))
            return found[-1]

        try:
            ok = checker.verify(idx=index, dnsfunc=lookup)
            if not ok and found and not found[-1]:
                results.append(DkimResult("permerror", domain, selector, "no key published"))
            else:
                results.append(DkimResult("pass" if ok else "fail", domain, selector,
                                          "" if ok else "signature did not verify"))
        except dkimpy.KeyFormatError as exc:
            kind = "temperror" if "temporary" in str(exc) else "permerror"
            results.append(DkimResult(kind, domain, selector, str(exc)[:200]))
        except dkimpy.ValidationError as exc:  # "body hash mismatch" is a failed check, the rest a bad signature
            kind = "fail" if "hash" in str(exc).lower() else "neutral"
            results.append(DkimResult(kind, domain, selector, str(exc)[:200]))
        except dkimpy.DKIMException as exc:
            results.append(DkimResult("permerror", domain, selector, str(exc)[:200]))
        except Exception as exc:  # dkimpy on hostile input: never let it cost the message
            results.append(DkimResult("permerror", domain, selector, exc.__class__.__name__))
    return results


def should_sign(source: str, auth_user: str) -> bool:
    """Sign what our users and the appliance send, not mail relayed from outside (the MX door, forwards):
    a forged local From arriving from outside must not leave with our signature."""
    return bool(auth_user) or source not in ("smtp", "forward")
