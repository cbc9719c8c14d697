"""Response headers for webmail pages: a strict CSP, no sniffing, no caching, no referrer.

Our own templates carry no inline script or style, so the page policy allows only
files from this origin; message bodies get their own, stricter policy
(:func:`webadmin.webmail.render.frame_csp`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
DOWNLOAD_CSP = "default-src 'none'; sandbox"


def harden(response: HttpResponse, csp: str = PAGE_CSP) -> HttpResponse:
    """Add the webmail security headers unless the view already chose a policy."""
    response.headers.setdefault("Content-Security-Policy", csp)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Not "no-referrer": with it Chromium sends "Origin: null" on our own POSTs and CSRF fails.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def webmail_headers(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return harden(view(request, *args, **kwargs))

    return wrapper
