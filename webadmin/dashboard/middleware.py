"""The TOTP second factor guards every staff page, not only the dashboard's.

A staff session that has not given its code yet (see ``access.needs_second_factor``)
is sent to the code page from the Django admin and the browsable API too. The
admin's own login form is not served at all: ``/admin/login/`` redirects to the
dashboard's login, which asks for the code (see ``mailappliance/urls.py``). Token-authenticated
API calls are not sessions and are not affected.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from .access import needs_second_factor

GUARDED_PREFIXES = ("/admin/", "/api/")
OPEN_PATHS = ("/admin/logout/", "/admin/jsi18n/")


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if (
            path.startswith(GUARDED_PREFIXES)
            and not path.startswith(OPEN_PATHS)
            and getattr(request, "user", None) is not None
            and request.user.is_authenticated
            and request.user.is_staff
            and needs_second_factor(request)
        ):
            return redirect(f"{reverse('dashboard:verify')}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
