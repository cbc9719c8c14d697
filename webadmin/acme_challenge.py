"""``/.well-known/acme-challenge/<token>``: the web port's half of ACME HTTP-01 (RFC 8555 §8.3).

The CA fetches this over plain HTTP while an order of :mod:`agents.acme` waits; the
answer is the key authorization the worker wrote for the token, as text/plain.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from mailcore.acmetokens import challenge_response


@require_GET
def acme_challenge(request: HttpRequest, token: str) -> HttpResponse:
    body = challenge_response(settings.MAILAPP_ACME_DIR, token)
    if body is None:
        raise Http404("No ACME challenge with this token.")
    return HttpResponse(body, content_type="text/plain")
