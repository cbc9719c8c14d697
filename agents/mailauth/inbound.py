"""The MX door's checks of one message: SPF, DKIM, DMARC, antivirus, spam score.

:func:`check` returns an :class:`InboundVerdict`: the reply to give instead of
accepting (DMARC reject, virus, spam over the reject score) or the message with
our ``Authentication-Results`` and ``X-Spam-*`` headers on top (forged copies
removed). Never raises: a failing check is recorded as temperror and the message
goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from . import arc, authresults, clamd, dkim, dmarc, message, policy, resolver, spam
from . import spf as spfcheck

log = logging.getLogger(__name__)

DMARC_REJECT = "550 5.7.1 Message rejected: DMARC policy of the sender's domain (p=reject) failed"
VIRUS = "554 5.7.1 Message rejected: virus found ({name})"
SPAM_REJECT = "550 5.7.1 Message rejected as spam (score {score:.1f})"


@dataclass
class InboundVerdict:
    reply: str | None  # None = accept
    raw: bytes  # the message to queue (headers added)
    spf: spfcheck.SpfResult | None = None
    dkim: tuple[dkim.DkimResult, ...] = ()
    dmarc: dmarc.DmarcResult | None = None
    spam: spam.Score | None = None
    arc: arc.ArcResult | None = None


def _eol(raw: bytes) -> bytes:
    first = raw.find(b"\n")
    return b"\r\n" if first > 0 and raw[first - 1 : first] == b"\r" else b"\n"


def _prepend(raw: bytes, lines: list[str]) -> bytes:
    eol = _eol(raw)
    return b"".join(line.replace("\r\n", eol.decode()).encode("utf-8", "replace") + eol for line in lines) + raw


def authentication(raw: bytes, ip: str, helo: str, sender: str) -> tuple[spfcheck.SpfResult, list[dkim.DkimResult],
                                                                         dmarc.DmarcResult]:
    """SPF, DKIM and DMARC results of a message."""
    spf_result = spfcheck.check(ip, sender, helo, receiver=settings.MAILAPP_HOSTNAME)
    try:
        dkim_results = dkim.verify(raw)
    except Exception:  # dkimpy on hostile input
        log.exception("DKIM verification crashed")
        dkim_results = [dkim.DkimResult("temperror", "", "", "verifier error")]
    dmarc_result = dmarc.evaluate(message.header_from_domain(raw), spf_result, dkim_results, resolver.txt)
    return spf_result, dkim_results, dmarc_result


def results_header(spf_result: spfcheck.SpfResult, dkim_results: list[dkim.DkimResult],
                   dmarc_result: dmarc.DmarcResult, ip: str, helo: str, sender: str,
                   arc_result: arc.ArcResult | None = None) -> str:
    """Our Authentication-Results header for these results (with ARC's when it was checked)."""
    methods: list[tuple[str, str, str, dict[str, str]]] = []
    spf_props = {"smtp.mailfrom": sender} if spf_result.scope == "mailfrom" else {"smtp.helo": helo}
    methods.append(("spf", spf_result.result, f"{spf_result.domain}: client {ip}", spf_props))
    if dkim_results:
        for r in dkim_results:
            methods.append(("dkim", r.result, r.reason, {"header.d": r.domain, "header.s": r.selector}))
    else:
        methods.append(("dkim", "none", "no signature", {}))
    dmarc_comment = f"p={dmarc_result.policy}" if dmarc_result.result in ("pass", "fail") else dmarc_result.reason
    methods.append(("dmarc", dmarc_result.result, dmarc_comment,
                    {"header.from": dmarc_result.header_from,
                     "policy.dmarc": dmarc_result.policy if dmarc_result.result == "fail" else ""}))
    if arc_result is not None:
        methods.append(("arc", arc_result.result, arc_result.reason, {}))
    return authresults.header(settings.MAILAPP_HOSTNAME, methods)


def check(raw: bytes, ip: str, helo: str, sender: str, recipients: list[str]) -> InboundVerdict:
    """Every MX-door check of ``raw``; see the module docstring."""
    raw = authresults.strip_forged(raw, settings.MAILAPP_HOSTNAME)
    policies = [policy.for_address(r) for r in recipients] or [policy.default_policy()]
    spf_result, dkim_results, dmarc_result = authentication(raw, ip, helo, sender)
    verdict = InboundVerdict(None, raw, spf_result, tuple(dkim_results), dmarc_result)
    if (dmarc_result.result == "fail" and dmarc_result.policy == "reject"
            and any(p.dmarc_action == "reject" for p in policies)):
        verdict.reply = DMARC_REJECT
        return verdict
    verdict.arc = arc.verify(raw)
    headers = [results_header(spf_result, dkim_results, dmarc_result, ip, helo, sender, verdict.arc)]
    if settings.MAILAPP_CLAMD_SOCKET:
        try:
            virus = clamd.scan(raw, settings.MAILAPP_CLAMD_SOCKET)
        except clamd.ClamdError as exc:
            log.warning("antivirus check skipped: %s", exc)
            virus = None
        if virus:
            verdict.reply = VIRUS.format(name=virus.replace("\r", "").replace("\n", ""))
            return verdict
    dkim_summary = ("pass" if any(r.result == "pass" for r in dkim_results)
                    else "fail" if any(r.result == "fail" for r in dkim_results) else "none")
    facts = spam.Facts(ip=ip, helo=helo, sender=sender, recipients=tuple(recipients), spf=spf_result.result,
                       dkim=dkim_summary, dmarc=dmarc_result.result, hostname=settings.MAILAPP_HOSTNAME)
    score = spam.score(raw, facts, rspamd_url=settings.MAILAPP_RSPAMD_URL, dnsbl_zones=settings.MAILAPP_DNSBL_ZONES)
    verdict.spam = score
    reject_at = min(p.spam_reject_score for p in policies)
    if score.score >= reject_at or score.action == "reject":
        verdict.reply = SPAM_REJECT.format(score=score.score)
        return verdict
    headers += spam.status_header(score, min(p.spam_junk_score for p in policies))
    verdict.raw = _prepend(raw, headers)
    return verdict
