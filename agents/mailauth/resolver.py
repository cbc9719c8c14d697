"""DNS questions for the checks, through the appliance's resolver (``MAILAPP_DNS_SERVER``).

SPF, DKIM, DMARC and DNS blocklists all ask here, so tests answer them from a DNS
server on loopback and production uses the configured (or system) resolver.
"""

from __future__ import annotations

from typing import Any

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from agents.delivery.dns import make_resolver

LIFETIME = 5.0  # seconds per question, retries included


class TempDNSError(Exception):
    """The question could not be answered now (timeout, SERVFAIL): a temporary error."""


def query(name: str, rdtype: str) -> list[Any]:
    """The answers for ``name``/``rdtype``; [] for NXDOMAIN or no data; raises TempDNSError."""
    try:
        answer = make_resolver().resolve(name, rdtype, lifetime=LIFETIME, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return []
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        raise TempDNSError(f"DNS {name}/{rdtype}: {exc.__class__.__name__}") from exc
    except (dns.name.LabelTooLong, dns.name.NameTooLong, dns.name.EmptyLabel, ValueError):
        return []  # a name that cannot exist has no records
    return list(answer.rrset or [])


def txt(name: str) -> list[bytes]:
    """Each TXT record of ``name`` as one byte string (its chunks joined)."""
    return [b"".join(r.strings) for r in query(name, "TXT")]


def addresses(name: str) -> list[str]:
    """A records of ``name`` (for DNS blocklists)."""
    return [r.address for r in query(name, "A")]
