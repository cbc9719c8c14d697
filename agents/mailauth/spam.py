"""Spam scoring: rspamd when ``MAILAPP_RSPAMD_URL`` is set, else built-in rules.

Built-in rules are small and explainable (SpamAssassin-like names and scores):
the client in a DNS blocklist (``MAILAPP_DNSBL_ZONES``), failed authentication,
missing Date/Message-ID, an all-caps subject, HTML without a text part. A
:class:`Score` carries the total and the names of the rules that hit, which go
into ``X-Spam-Status``. The checker is pluggable: :data:`CHECKERS` maps a name to
a function, and :func:`score` picks rspamd or the rules.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from . import message, resolver

log = logging.getLogger(__name__)

RULES = {
    "DNSBL_LISTED": 5.0,
    "SPF_FAIL": 2.0,
    "SPF_SOFTFAIL": 1.0,
    "DKIM_FAIL": 1.5,
    "DMARC_FAIL": 3.0,
    "MISSING_DATE": 1.0,
    "MISSING_MID": 1.0,
    "SUBJ_ALL_CAPS": 1.5,
    "HTML_ONLY": 1.0,
    "MISSING_FROM": 2.0,
}


@dataclass
class Score:
    score: float = 0.0
    tests: list[str] = field(default_factory=list)
    action: str = ""  # rspamd's own action, if it gave one
    virus: str = ""  # an antivirus finding

    def add(self, rule: str, points: float | None = None) -> None:
        self.score += RULES.get(rule, 0.0) if points is None else points
        self.tests.append(rule)


@dataclass(frozen=True)
class Facts:
    """What the scoring may know besides the message."""

    ip: str
    helo: str
    sender: str
    recipients: tuple[str, ...]
    spf: str = "none"
    dkim: str = "none"  # "pass" if any signature passed, "fail" if all failed, "none"
    dmarc: str = "none"
    hostname: str = ""


def dnsbl_hits(ip: str, zones: list[str]) -> list[str]:
    """The zones listing ``ip`` (IPv4 only: reversed octets + zone, any 127.0.0.x answer)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return []
    if address.version != 4:
        return []
    reversed_ip = ".".join(reversed(str(address).split(".")))
    hits = []
    for zone in zones:
        try:
            if any(a.startswith("127.") for a in resolver.addresses(f"{reversed_ip}.{zone}")):
                hits.append(zone)
        except resolver.TempDNSError:
            continue  # a blocklist that cannot answer counts as not listing
    return hits


def _all_caps(subject: str) -> bool:
    letters = [c for c in subject if c.isalpha()]
    return len(letters) >= 8 and all(c.isupper() for c in letters)


def rule_score(raw: bytes, facts: Facts, dnsbl_zones: list[str]) -> Score:
    """The built-in rules."""
    result = Score()
    for _zone in dnsbl_hits(facts.ip, dnsbl_zones):
        result.add("DNSBL_LISTED")
        break
    if facts.spf == "fail":
        result.add("SPF_FAIL")
    elif facts.spf == "softfail":
        result.add("SPF_SOFTFAIL")
    if facts.dkim == "fail":
        result.add("DKIM_FAIL")
    if facts.dmarc == "fail":
        result.add("DMARC_FAIL")
    fields = message.headers(raw)
    names = {n for n, _ in fields}
    if "date" not in names:
        result.add("MISSING_DATE")
    if "message-id" not in names:
        result.add("MISSING_MID")
    if "from" not in names:
        result.add("MISSING_FROM")
    if _all_caps(message.first(fields, "subject") or ""):
        result.add("SUBJ_ALL_CAPS")
    ctype = (message.first(fields, "content-type") or "text/plain").lower()
    if ctype.startswith("text/html") or (ctype.startswith("multipart/")
                                         and b"text/html" in raw.lower() and b"text/plain" not in raw.lower()):
        result.add("HTML_ONLY")
    return result


def rspamd_score(raw: bytes, facts: Facts, url: str, timeout: float = 10.0) -> Score:
    """Ask rspamd (``POST <url>/checkv2``, its HTTP protocol) for a score; raises OSError/ValueError."""
    headers = {"IP": facts.ip, "Helo": facts.helo or "unknown", "From": facts.sender or "<>",
               "Hostname": facts.hostname or "unknown", "Content-Type": "message/rfc822"}
    request = urllib.request.Request(url.rstrip("/") + "/checkv2", data=raw, headers=headers, method="POST")
    for rcpt in facts.recipients[:50]:
        request.add_header("Rcpt", rcpt)  # urllib keeps one per name; the first is enough for scoring
        break
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
        body = response.read(1_000_000)
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("score"), int | float):
        raise ValueError("rspamd answered without a score")
    symbols = data.get("symbols")
    listed = list(symbols)[:30] if isinstance(symbols, dict) else []
    names = [re.sub(r"[^A-Z0-9_]", "", str(s).upper())[:40] for s in listed]
    return Score(float(data["score"]), [n for n in names if n], str(data.get("action", ""))[:32])


Checker = Callable[[bytes, Facts], Score]


def score(raw: bytes, facts: Facts, *, rspamd_url: str = "", dnsbl_zones: list[str] | None = None) -> Score:
    """rspamd's score when configured (falling back to the rules if it cannot be reached), else the rules."""
    if rspamd_url:
        try:
            return rspamd_score(raw, facts, rspamd_url)
        except (OSError, ValueError, urllib.error.URLError) as exc:
            log.warning("rspamd at %s failed (%s); using the built-in rules", rspamd_url, exc)
    return rule_score(raw, facts, dnsbl_zones or [])


def status_header(result: Score, junk_at: float) -> list[str]:
    """``X-Spam-Score`` and ``X-Spam-Status`` lines (SpamAssassin's shape)."""
    flag = "Yes" if result.score >= junk_at else "No"
    tests = ",".join(result.tests) or "none"
    return [f"X-Spam-Score: {result.score:.1f}",
            f"X-Spam-Status: {flag}, score={result.score:.1f} required={junk_at:.1f} tests={tests}"]
