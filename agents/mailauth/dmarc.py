"""DMARC (RFC 7489): the From domain's policy, identifier alignment, the result.

Organisational domains come from ``publicsuffix2`` and the Public Suffix List it
bundles (no fetch at run time). The record is looked up at ``_dmarc.<From
domain>`` and, failing that, at ``_dmarc.<organisational domain>`` (whose ``sp=``
then applies).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from publicsuffix2 import get_sld

from .dkim import DkimResult
from .spf import SpfResult

POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class DmarcRecord:
    policy: str  # p=
    subdomain_policy: str  # sp= (defaults to p=)
    adkim: str  # "r" | "s"
    aspf: str
    pct: int


@dataclass(frozen=True)
class DmarcResult:
    result: str  # pass, fail, none, temperror, permerror
    header_from: str
    policy: str = "none"  # the policy that applies to this message (p= or sp=)
    reason: str = ""


def org_domain(domain: str) -> str:
    """The organisational domain: one label below the public suffix (``a.b.example.co.uk`` → ``example.co.uk``)."""
    domain = domain.lower().rstrip(".")
    try:
        sld = get_sld(domain) or domain
    except Exception:  # odd input: the name itself
        return domain
    if "." not in sld:  # a TLD the bundled list does not know: the PSL's implicit "*" rule
        sld = ".".join(domain.split(".")[-2:])
    return sld


def aligned(a: str, b: str, mode: str) -> bool:
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    if not a or not b:
        return False
    return a == b if mode == "s" else org_domain(a) == org_domain(b)


def parse_record(text: str) -> DmarcRecord | None:
    """A DMARC record from its TXT text, or None when it is not one (RFC 7489 §6.3)."""
    tags: dict[str, str] = {}
    for part in text[:2048].split(";"):
        name, eq, value = part.partition("=")
        if eq:
            tags.setdefault(name.strip().lower(), value.strip())
    if tags.get("v") != "DMARC1":
        return None
    policy = tags.get("p", "").lower()
    if policy not in POLICIES:
        if "rua" not in tags:
            return None
        policy = "none"  # §6.6.3: an invalid p= with a rua= is treated as p=none
    sub = tags.get("sp", "").lower()
    pct = tags.get("pct", "100")
    return DmarcRecord(
        policy=policy,
        subdomain_policy=sub if sub in POLICIES else policy,
        adkim="s" if tags.get("adkim", "r").lower() == "s" else "r",
        aspf="s" if tags.get("aspf", "r").lower() == "s" else "r",
        pct=int(pct) if pct.isdigit() and int(pct) <= 100 else 100,
    )


def _find_record(domain: str, txt: Callable[[str], list[bytes]]) -> DmarcRecord | None:
    records = [r for r in (parse_record(t.decode("utf-8", "replace")) for t in txt(f"_dmarc.{domain}")
                           if t.lower().startswith(b"v=dmarc1")) if r]
    return records[0] if len(records) == 1 else None


def evaluate(header_from: str, spf: SpfResult, dkim: Iterable[DkimResult],
             txt: Callable[[str], list[bytes]]) -> DmarcResult:
    """Evaluate DMARC for a message whose From domain is ``header_from``.

    ``txt(name)`` answers TXT questions and may raise any exception with "temporary" semantics
    (the caller passes :func:`agents.mailauth.resolver.txt`; its TempDNSError gives temperror).
    """
    if not header_from:
        return DmarcResult("none", "", reason="no single From domain")
    try:
        record = _find_record(header_from, txt)
        organisational = org_domain(header_from)
        applies_sub = False
        if record is None and organisational != header_from:
            record = _find_record(organisational, txt)
            applies_sub = record is not None
    except Exception as exc:
        return DmarcResult("temperror", header_from, reason=str(exc)[:200])
    if record is None:
        return DmarcResult("none", header_from, reason="no DMARC record")
    policy = record.subdomain_policy if applies_sub else record.policy
    spf_ok = spf.result == "pass" and aligned(spf.domain, header_from, record.aspf)
    dkim_ok = any(r.result == "pass" and aligned(r.domain, header_from, record.adkim) for r in dkim)
    if spf_ok or dkim_ok:
        return DmarcResult("pass", header_from, policy, "aligned " + ("DKIM" if dkim_ok else "SPF"))
    return DmarcResult("fail", header_from, policy, "no aligned SPF or DKIM pass")
