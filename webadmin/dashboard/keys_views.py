"""Dashboard actions on keys: a domain's DKIM key (DNS page) and the TLS certificate (Health)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from webadmin.dkimkeys import create_key

from . import domains as domain_service
from .access import staff_required, superadmin_required


@require_POST
@staff_required
def dkim_key(request: HttpRequest, name: str) -> HttpResponse:
    """Make the domain's first DKIM key, or a new one with a new selector (the old record may stay)."""
    found = domain_service.domain_for(request.user, name)
    if found is None:
        raise Http404("No such domain among yours.")
    had_key = found.dkim_keys.filter(active=True, algorithm="rsa").exists()
    key = create_key(found, rotate=had_key)
    messages.success(request, f"New DKIM key {key.selector}: publish its TXT record below; "
                              "mail is signed with it from now on.")
    return redirect("dashboard:domain", name=found.name)


@require_POST
@superadmin_required
def certificate(request: HttpRequest) -> HttpResponse:
    """Ask for a certificate now (ACME, docs/certificates.md); the result shows on Health."""
    from django.conf import settings

    from agents.tasks import renew_certificate

    if not settings.MAILAPP_ACME_DIRECTORY:
        messages.error(request, "ACME is off: set MAILAPP_ACME_DIRECTORY (and MAILAPP_ACME_EMAIL) first.")
    else:
        renew_certificate.delay(force=True)
        messages.success(request, "Certificate requested; its status shows below.")
    return redirect("dashboard:overview")
