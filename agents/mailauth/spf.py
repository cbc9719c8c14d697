"""SPF (RFC 7208) with pyspf, asking our resolver.

pyspf looks names up through its module-level ``DNSLookup`` function; we set it
to one that uses :mod:`agents.mailauth.resolver`, so ``MAILAPP_DNS_SERVER`` (and
the loopback DNS server of the tests) applies. Results: pass, fail, softfail,
neutral, none, temperror, permerror.
"""

from __future__ import annotations

from dataclasses import dataclass

import spf as pyspf

from . import resolver

__all__ = ["SpfResult", "check"]


@dataclass(frozen=True)
class SpfResult:
    result: str
    domain: str  # the domain checked: MAIL FROM's, or HELO's for the null sender
    scope: str  # "mailfrom" | "helo"
    explanation: str = ""


def _lookup(name: str, qtype: str, strict: bool = True, timeout: int = 20) -> list:
    """pyspf's DNSLookup contract: [((name, qtype), value), ...]; raises pyspf.TempError."""
    try:
        records = resolver.query(name, qtype)
    except resolver.TempDNSError as exc:
        raise pyspf.TempError(str(exc)) from exc
    result = []
    for rdata in records:
        if qtype in ("A", "AAAA"):
            result.append(((name, qtype), rdata.address))
        elif qtype == "MX":
            result.append(((name, qtype), (rdata.preference, rdata.exchange)))
        elif qtype == "PTR":
            result.append(((name, qtype), rdata.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            result.append(((name, qtype), rdata.strings))
        elif qtype == "CNAME":
            result.append(((name, qtype), rdata.target.to_text(True)))
    return result


pyspf.DNSLookup = _lookup


def check(ip: str, mail_from: str, helo: str, receiver: str = "") -> SpfResult:
    """Check the client ``ip`` against MAIL FROM's domain (or HELO's when the sender is null)."""
    helo = (helo or "").strip()[:255]
    if mail_from and "@" in mail_from:
        domain, scope, identity = mail_from.rpartition("@")[2].lower(), "mailfrom", mail_from
    else:
        domain, scope, identity = helo.lower(), "helo", f"postmaster@{helo}"
    if not domain or not ip:
        return SpfResult("none", domain, scope, "no domain to check")
    try:
        result, explanation = pyspf.check2(i=ip, s=identity, h=helo or domain, receiver=receiver or "unknown",
                                           timeout=10)
    except Exception as exc:  # pyspf on hostile records: a permanent error, never a traceback
        return SpfResult("permerror", domain, scope, exc.__class__.__name__)
    return SpfResult(str(result).lower(), domain, scope, str(explanation)[:200])
