"""Mail client set-up: Thunderbird autoconfig and Outlook autodiscover.

A mail client that knows only an address asks
``/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=…`` (Thunderbird,
also at ``/mail/config-v1.1.xml`` on ``autoconfig.<domain>``) or POSTs an
autodiscover request to ``/autodiscover/autodiscover.xml`` (Outlook). Both answer
with this appliance's host name and ports from the settings.

The request parser (:func:`parse_autodiscover_request`) is pure: bytes in, an
address out, and it refuses DOCTYPEs (entity bombs, external entities) and
oversized bodies before any XML parser sees them.
"""

from __future__ import annotations

import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mailcore.addresses import AddressError, normalize_domain, split_address
from webadmin.models import Domain, DomainAlias

MAX_REQUEST_BYTES = 16 * 1024
XML_TYPE = "application/xml; charset=utf-8"
REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


class AutodiscoverError(ValueError):
    """The request is not an autodiscover request we can answer."""


@dataclass
class Server:
    protocol: str  # imap, pop3, smtp
    hostname: str
    port: int
    socket_type: str  # SSL (implicit TLS) or STARTTLS


def servers() -> list[Server]:
    """Incoming servers first, preferred first: IMAP over POP3, implicit TLS over STARTTLS (RFC 8314)."""
    host = settings.MAILAPP_HOSTNAME
    return [
        Server("imap", host, settings.MAILAPP_IMAPS_PORT, "SSL"),
        Server("imap", host, settings.MAILAPP_IMAP_PORT, "STARTTLS"),
        Server("pop3", host, settings.MAILAPP_POP3S_PORT, "SSL"),
        Server("pop3", host, settings.MAILAPP_POP3_PORT, "STARTTLS"),
        Server("smtp", host, settings.MAILAPP_SMTPS_PORT, "SSL"),
        Server("smtp", host, settings.MAILAPP_SUBMISSION_PORT, "STARTTLS"),
    ]


def outlook_servers() -> list[Server]:
    """One server per protocol for Outlook: IMAP and POP3 over implicit TLS, SMTP submission with STARTTLS.

    Outlook's POX schema holds one entry per type; its ``Encryption`` element
    says TLS (STARTTLS) for SMTP, ``SSL on`` means implicit TLS.
    """
    chosen: dict[str, Server] = {}
    for server in servers():
        wanted = "STARTTLS" if server.protocol == "smtp" else "SSL"
        if server.socket_type == wanted:
            chosen.setdefault(server.protocol, server)
    return list(chosen.values())


def local_domain(name: str) -> Domain | None:
    """The active domain ``name`` names (directly or as a domain alias), else None."""
    try:
        name = normalize_domain(name)
    except AddressError:
        return None
    domain = Domain.objects.filter(name=name, active=True).first()
    if domain is None:
        alias = DomainAlias.objects.filter(name=name, active=True, target__active=True).select_related("target").first()
        domain = alias.target if alias else None
    return domain


def _domain_of(address: str) -> str | None:
    try:
        return split_address(address.strip())[1]
    except AddressError:
        return None


def _request_domain(request: HttpRequest) -> Domain | None:
    """The domain from ?emailaddress=, else from the Host (autoconfig.<domain>)."""
    address = request.GET.get("emailaddress", "")[:320]
    name = _domain_of(address) if address else None
    if name is None:
        host = request.get_host().rsplit(":", 1)[0].lower()
        name = host.removeprefix("autoconfig.") if host.startswith("autoconfig.") else None
    return local_domain(name) if name else None


@require_http_methods(["GET", "HEAD"])
def thunderbird(request: HttpRequest) -> HttpResponse:
    """Thunderbird's config-v1.1.xml for a local domain; 404 for any other (it then tries elsewhere)."""
    domain = _request_domain(request)
    if domain is None:
        return HttpResponse("No mail domain of this server.\n", status=404, content_type="text/plain")
    context = {"domain": domain, "servers": servers(), "hostname": settings.MAILAPP_HOSTNAME}
    body = render_to_string("autoconfig/config-v1.1.xml", context)
    return HttpResponse(body, content_type=XML_TYPE)


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_autodiscover_request(body: bytes) -> str:
    """The EMailAddress of an Outlook autodiscover request; raises AutodiscoverError.

    Hostile input is refused before parsing: oversized bodies, DOCTYPE (entity
    expansion, external entities) and processing instructions other than the XML
    declaration.
    """
    if len(body) > MAX_REQUEST_BYTES:
        raise AutodiscoverError("request too large")
    if re.search(rb"<!DOCTYPE|<!ENTITY", body, re.IGNORECASE):
        raise AutodiscoverError("DOCTYPE and entities are not allowed")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise AutodiscoverError(f"not well-formed XML: {exc}") from None
    if _local_name(root.tag) != "Autodiscover":
        raise AutodiscoverError("the root element must be Autodiscover")
    for element in root.iter():
        if _local_name(element.tag) == "EMailAddress":
            address = (element.text or "").strip()
            if address and len(address) <= 320:
                return address
            break
    raise AutodiscoverError("no EMailAddress in the request")


def _autodiscover_error(code: int, message: str) -> HttpResponse:
    body = render_to_string(
        "autoconfig/autodiscover-error.xml",
        {
            "code": code,
            "message": message,
            "time": timezone.now().strftime("%H:%M:%S.%f")[:-3],
            "id": secrets.randbelow(2**31),
        },
    )
    # Outlook reads the error document; HTTP 200 is what Exchange sends with it.
    return HttpResponse(body, content_type=XML_TYPE)


@csrf_exempt  # mail clients POST without a session: there is no cookie to forge
@require_http_methods(["GET", "POST"])
def autodiscover(request: HttpRequest) -> HttpResponse:
    """Outlook's POX autodiscover: the request XML (POST) or ?emailaddress= (GET)."""
    if request.method == "POST":
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_REQUEST_BYTES:
            return _autodiscover_error(600, "Invalid Request")
        try:
            address = parse_autodiscover_request(request.read(MAX_REQUEST_BYTES + 1))
        except AutodiscoverError:
            return _autodiscover_error(600, "Invalid Request")
    else:
        address = request.GET.get("emailaddress", "").strip()[:320]
    name = _domain_of(address) if address else None
    domain = local_domain(name) if name else None
    if domain is None:
        return _autodiscover_error(603, "The e-mail address cannot be found.")
    local = address.rpartition("@")[0]
    context = {
        "address": f"{local}@{domain.name}",
        "display_name": address,
        "servers": outlook_servers(),
        "schema": RESPONSE_SCHEMA,
    }
    return HttpResponse(render_to_string("autoconfig/autodiscover.xml", context), content_type=XML_TYPE)
