"""DNS for a domain: the records to publish, and what DNS answers for them today.

The expected records follow from the settings (MAILAPP_HOSTNAME and the ports):
MX, SPF, DKIM (once signing exists: see :func:`dkim_expected`), DMARC, the
autoconfig/autodiscover names and the RFC 6186 SRV records. The live check asks
the resolver in MAILAPP_DNS_SERVER ("host:port") when set, else the system's.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dns.exception
import dns.resolver
from django.conf import settings

from agents.hostname import hostname_problem, hostname_warning
from agents.mailauth.keys import dns_record
from webadmin.dkimkeys import quoted_txt

QUERY_TIMEOUT = 1.2
QUERY_LIFETIME = 2.5  # the page waits at most this long, all queries run at once


@dataclass
class Expected:
    """One record to publish, written as a zone-file line would be."""

    kind: str  # what it is for: MX, SPF, DKIM, DMARC, autoconfig, SRV imaps, …
    name: str  # owner name, absolute, no trailing dot
    rtype: str  # MX, TXT, CNAME, SRV
    value: str  # record data as in a zone file
    why: str
    check: Callable[[list[str]], tuple[bool, str]] | None = field(default=None, repr=False)

    @property
    def checkable(self) -> bool:
        """Whether there is a record to publish and check (templates cannot test ``check``:
        Django calls callables, and ``check`` needs an argument)."""
        return self.check is not None

    @property
    def zone_line(self) -> str:
        return f"{self.name}. 3600 IN {self.rtype} {self.value}"


@dataclass
class Result:
    expected: Expected
    ok: bool | None  # None: nothing to check yet (e.g. DKIM before signing exists)
    found: list[str]
    note: str


def _fqdn(name: str) -> str:
    return name.rstrip(".").lower()


def resolver() -> dns.resolver.Resolver:
    """A resolver for settings.MAILAPP_DNS_SERVER ("host:port" or "host"), else the system's."""
    server = settings.MAILAPP_DNS_SERVER
    if not server:
        res = dns.resolver.Resolver()
    else:
        res = dns.resolver.Resolver(configure=False)
        host, port = server, 53
        if server.startswith("["):  # [::1]:5353
            host, _, rest = server[1:].partition("]")
            port = int(rest.lstrip(":") or 53)
        elif server.count(":") == 1:
            host, _, port_text = server.partition(":")
            port = int(port_text)
        res.nameservers = [host]
        res.port = port
    res.timeout = QUERY_TIMEOUT
    res.lifetime = QUERY_LIFETIME
    res.cache = None
    return res


def lookup(name: str, rtype: str) -> tuple[list[str], str]:
    """The answers for ``name``/``rtype`` as text, and a note when there were none."""
    try:
        answer = resolver().resolve(name, rtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return [], f"{name} does not exist (NXDOMAIN)"
    except dns.resolver.NoNameservers:
        return [], "the DNS server failed to answer (SERVFAIL)"
    except dns.exception.Timeout:
        return [], "the DNS server did not answer in time"
    except dns.exception.DNSException as exc:
        return [], f"DNS error: {exc.__class__.__name__}"
    if answer.rrset is None:
        return [], f"no {rtype} record"
    if rtype == "TXT":
        texts = [b"".join(r.strings).decode("utf-8", "replace") for r in answer.rrset]
        return texts, ""
    return [r.to_text() for r in answer.rrset], ""


# --- checks: each takes the answers as text and says pass/fail with a reason -------------


def _check_mx(host: str) -> Callable[[list[str]], tuple[bool, str]]:
    def check(found: list[str]) -> tuple[bool, str]:
        exchanges = [_fqdn(r.split()[-1]) for r in found]
        if host in exchanges:
            return True, f"mail for the domain goes to {host}"
        return False, f"no MX points at {host}"

    return check


def _check_spf(host: str) -> Callable[[list[str]], tuple[bool, str]]:
    def check(found: list[str]) -> tuple[bool, str]:
        spf = [t for t in found if t.lower().startswith("v=spf1")]
        if not spf:
            return False, "no SPF record (TXT starting with v=spf1)"
        if len(spf) > 1:
            return False, "more than one SPF record: receivers treat that as an error (RFC 7208 §4.5)"
        terms = spf[0].lower().split()[1:]
        allowed = {"mx", "+mx", f"a:{host}", f"+a:{host}", f"mx:{host}"}
        if any(term in allowed for term in terms):
            return True, "SPF authorises this host"
        return False, "SPF does not list mx or a:" + host

    return check


def _check_dmarc(found: list[str]) -> tuple[bool, str]:
    dmarc = [t for t in found if t.replace(" ", "").upper().startswith("V=DMARC1")]
    if len(dmarc) == 1:
        return True, "DMARC policy published"
    if not dmarc:
        return False, "no DMARC record (TXT starting with v=DMARC1)"
    return False, "more than one DMARC record: receivers ignore them all (RFC 7489 §6.6.3)"


def _check_cname(host: str) -> Callable[[list[str]], tuple[bool, str]]:
    def check(found: list[str]) -> tuple[bool, str]:
        if any(_fqdn(r) == host for r in found):
            return True, f"points at {host}"
        return False, f"does not point at {host}"

    return check


def _check_srv(host: str, port: int) -> Callable[[list[str]], tuple[bool, str]]:
    def check(found: list[str]) -> tuple[bool, str]:
        for record in found:
            parts = record.split()
            if len(parts) == 4 and parts[2] == str(port) and _fqdn(parts[3]) == host:
                return True, f"{host} port {port}"
        return False, f"no SRV record for {host} port {port}"

    return check


def _check_dkim(value: str) -> Callable[[list[str]], tuple[bool, str]]:
    def check(found: list[str]) -> tuple[bool, str]:
        wanted = value.replace('"', "").replace(" ", "")
        if any(t.replace(" ", "") == wanted for t in found):
            return True, "published as expected"
        if not any(t.replace(" ", "").upper().startswith("V=DKIM1") or "p=" in t for t in found):
            return False, "not published yet: publish the record shown"
        return False, "the published key differs from the signing key"

    return check


def dkim_expected(domain: str) -> tuple[str, str] | None:
    """(selector, TXT value) of the key that signs for ``domain``, or None while it has none."""
    return dns_record(domain)


def expected_records(domain: str) -> list[Expected]:
    """The records ``domain`` should publish for this appliance (ASCII names)."""
    domain = _fqdn(domain)
    host = _fqdn(settings.MAILAPP_HOSTNAME)
    records = [
        Expected("MX", domain, "MX", f"10 {host}.", "where other servers deliver mail", _check_mx(host)),
        Expected(
            "SPF", domain, "TXT", '"v=spf1 mx -all"', "which hosts may send mail from the domain", _check_spf(host)
        ),
    ]
    dkim = dkim_expected(domain)
    if dkim:
        selector, value = dkim
        records.append(
            Expected("DKIM", f"{selector}._domainkey.{domain}", "TXT", quoted_txt(value), "signature key",
                     _check_dkim(value))
        )
    else:
        records.append(Expected("DKIM", f"<selector>._domainkey.{domain}", "TXT", "(no key yet)", "signature key"))
    records.append(
        Expected(
            "DMARC",
            f"_dmarc.{domain}",
            "TXT",
            f'"v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"',
            "what receivers do when SPF and DKIM fail",
            _check_dmarc,
        )
    )
    for label, why in (("autoconfig", "Thunderbird set-up"), ("autodiscover", "Outlook set-up")):
        records.append(Expected(label, f"{label}.{domain}", "CNAME", f"{host}.", why, _check_cname(host)))
    srv = [
        ("submission", 0, settings.MAILAPP_SUBMISSION_PORT, "sending mail, STARTTLS (RFC 6186)"),
        ("submissions", 0, settings.MAILAPP_SMTPS_PORT, "sending mail, implicit TLS (RFC 8314)"),
        ("imap", 10, settings.MAILAPP_IMAP_PORT, "IMAP, STARTTLS (RFC 6186)"),
        ("imaps", 0, settings.MAILAPP_IMAPS_PORT, "IMAP, implicit TLS (RFC 6186)"),
        ("pop3", 30, settings.MAILAPP_POP3_PORT, "POP3, STARTTLS (RFC 6186)"),
        ("pop3s", 20, settings.MAILAPP_POP3S_PORT, "POP3, implicit TLS (RFC 6186)"),
    ]
    for service, priority, port, why in srv:
        records.append(
            Expected(
                f"SRV {service}",
                f"_{service}._tcp.{domain}",
                "SRV",
                f"{priority} 1 {port} {host}.",
                why,
                _check_srv(host, int(port)),
            )
        )
    if hostname_problem(host) is not None:
        # No record may name this host: "MX 10 localhost." would send the domain's mail nowhere.
        # DKIM and DMARC do not name it and stay; the rest waits for the public name.
        later = "(set MAILAPP_HOSTNAME to the public name first)"
        records = [r if r.kind in ("DKIM", "DMARC") else Expected(r.kind, r.name, r.rtype, later, r.why)
                   for r in records]
    return records


def _check_one(record: Expected) -> Result:
    if record.check is None:
        return Result(record, None, [], "nothing to check yet")
    found, note = lookup(record.name, record.rtype)
    ok, reason = record.check(found)
    return Result(record, ok, found, reason if ok or not note else f"{reason}; {note}")


def host_warning() -> str | None:
    """Why the records cannot be given yet (MAILAPP_HOSTNAME not public), or None."""
    return hostname_warning(settings.MAILAPP_HOSTNAME)


def check_domain(domain: str) -> list[Result]:
    """Ask DNS for every expected record at once: a dead resolver costs one timeout, not twelve."""
    records = expected_records(domain)
    with ThreadPoolExecutor(max_workers=len(records)) as pool:
        return list(pool.map(_check_one, records))
