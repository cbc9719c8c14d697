"""MX lookup for remote delivery (RFC 5321 §5.1, null MX RFC 7505), with dnspython.

The resolver is the system's unless ``settings.MAILAPP_DNS_SERVER`` ("host:port")
names one; tests point it at a DNS server on loopback.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
from django.conf import settings

LIFETIME = 10.0  # seconds for one question, retries included


class DNSError(Exception):
    """A lookup failed. ``temporary`` tells whether to retry later or bounce now."""

    def __init__(self, message: str, *, temporary: bool, status: str) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.status = status  # the RFC 3463 enhanced status code for a DSN


@dataclass(frozen=True)
class Route:
    """One host to try, in order, with its addresses."""

    host: str
    preference: int
    addresses: tuple[str, ...]


_resolvers: dict[str, dns.resolver.Resolver] = {}


def make_resolver(server: str | None = None) -> dns.resolver.Resolver:
    """A caching resolver asking ``server`` ("host:port", "[v6]:port" or "host") or the system's.

    One per server per process, with an LRU cache honouring the records' TTLs, so a
    worker does not ask again for every message to the same domain.
    """
    server = settings.MAILAPP_DNS_SERVER if server is None else server
    resolver = _resolvers.get(server)
    if resolver is None:
        resolver = _resolvers[server] = _new_resolver(server)
    return resolver


def _new_resolver(server: str) -> dns.resolver.Resolver:
    if not server:
        resolver = dns.resolver.Resolver()
    else:
        host, port = _split_server(server)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = LIFETIME
    resolver.timeout = min(3.0, LIFETIME)
    resolver.cache = dns.resolver.LRUCache(10_000)
    return resolver


def _split_server(server: str) -> tuple[str, int]:
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if server.count(":") == 1:
        host, _, port = server.partition(":")
        return host, int(port)
    return server, 53


def _query(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> list:
    """Records of ``rdtype`` at ``name``; [] when the name exists without them."""
    try:
        return list(resolver.resolve(name, rdtype, search=False))
    except dns.resolver.NXDOMAIN as exc:
        raise DNSError(f"{name}: no such domain", temporary=False, status="5.1.2") from exc
    except dns.resolver.NoAnswer:
        return []
    except dns.resolver.NoNameservers as exc:  # SERVFAIL from every server
        raise DNSError(f"{name}: DNS server failure ({rdtype})", temporary=True, status="4.4.3") from exc
    except (dns.exception.Timeout, dns.resolver.LifetimeTimeout) as exc:
        raise DNSError(f"{name}: DNS timeout ({rdtype})", temporary=True, status="4.4.3") from exc
    except dns.exception.DNSException as exc:
        raise DNSError(f"{name}: DNS error ({exc})", temporary=True, status="4.4.3") from exc


def host_addresses(host: str, resolver: dns.resolver.Resolver) -> tuple[str, ...]:
    """IPv4 then IPv6 addresses of ``host`` (an address literal stands for itself)."""
    try:
        return (str(ipaddress.ip_address(host.strip("[]"))),)
    except ValueError:
        pass
    found: list[str] = []
    errors: list[DNSError] = []
    for rdtype in ("A", "AAAA"):
        try:
            found += [r.address for r in _query(resolver, host, rdtype)]
        except DNSError as exc:
            errors.append(exc)
    if not found and errors:
        raise errors[0]
    return tuple(found)


def routes_for(domain: str, resolver: dns.resolver.Resolver | None = None) -> list[Route]:
    """The hosts to try for ``domain``, best preference first (equal ones shuffled).

    No MX records: the domain itself (implicit MX). A null MX (one record ``0 .``)
    means the domain accepts no mail: a permanent :class:`DNSError` (RFC 7505).
    Raises :class:`DNSError` (temporary or permanent) when no route is known.
    """
    resolver = resolver or make_resolver()
    if domain.startswith("[") and domain.endswith("]"):  # address literal: user@[192.0.2.1]
        return [Route(domain, 0, host_addresses(domain, resolver))]
    records = _query(resolver, domain, "MX")
    if any(r.exchange == dns.name.root for r in records):
        raise DNSError(f"{domain}: the domain accepts no mail (null MX)", temporary=False, status="5.1.10")
    if not records:
        addresses = host_addresses(domain, resolver)
        if not addresses:
            raise DNSError(f"{domain}: no MX and no address records", temporary=False, status="5.1.2")
        return [Route(domain, 0, addresses)]
    by_preference: dict[int, list[str]] = {}
    for record in records:
        by_preference.setdefault(int(record.preference), []).append(record.exchange.to_text(omit_final_dot=True))
    routes: list[Route] = []
    last_error: DNSError | None = None
    for preference in sorted(by_preference):
        hosts = by_preference[preference]
        random.shuffle(hosts)  # spread load over equal MX hosts
        for host in hosts:
            try:
                addresses = host_addresses(host, resolver)
            except DNSError as exc:
                last_error = exc
                continue
            if addresses:
                routes.append(Route(host, preference, addresses))
    if not routes:
        if last_error is not None and last_error.temporary:
            raise last_error
        raise DNSError(f"{domain}: no address for any MX host", temporary=True, status="4.4.4")
    return routes
