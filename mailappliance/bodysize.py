"""Request bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE``: a clean 413, logged as a warning.

Django raises ``RequestDataTooBig`` when something first reads such a body, answers 400 and
logs it on ``django.security.RequestDataTooBig`` at ERROR with a traceback: a 50 MB API
body looked like a server fault. Three small pieces turn it into what it is, a client's
mistake (RFC 9110 section 15.5.14, 413 Content Too Large):

- :class:`OversizeBodyMiddleware`, first in ``MIDDLEWARE``, answers 413 from the
  ``Content-Length`` alone, before anything reads the body (multipart forms are left to
  Django: there the limit counts only the non-file fields);
- :func:`bad_request`, the ``handler400``, answers 413 for a ``RequestDataTooBig`` that
  still happens (a multipart form with oversize fields);
- :class:`QuietTooBig`, a logging filter on that logger, makes its record a one-line warning.

Under ``/api/`` the 413 body is JSON (``{"detail": …}``, like every DRF error); elsewhere plain text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views import defaults

log = logging.getLogger(__name__)

API_PREFIX = "/api/"


def too_large(request: HttpRequest) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    detail = f"Request body too large (limit {limit} bytes)."
    if request.path.startswith(API_PREFIX):
        return HttpResponse(json.dumps({"detail": detail}), status=413, content_type="application/json")
    return HttpResponse(detail + "\n", status=413, content_type="text/plain; charset=utf-8")


class OversizeBodyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and not (request.content_type or "").startswith("multipart/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                log.warning("413: %s %s with a %d-byte body (limit %d)", request.method, request.path, length, limit)
                return too_large(request)  # the body is never read (gunicorn discards it)
        return self.get_response(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400``: 413 for a body Django found too large while reading it, else Django's 400."""
    if isinstance(exception, RequestDataTooBig):
        return too_large(request)
    return defaults.bad_request(request, exception)


class QuietTooBig(logging.Filter):
    """Turn Django's ERROR-with-traceback for ``RequestDataTooBig`` into a one-line WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        return True
