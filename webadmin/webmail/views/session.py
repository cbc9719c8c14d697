"""Sign-in and sign-out pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render as render_template
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from .. import auth
from ..security import webmail_headers


@webmail_headers
@csrf_protect
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    error = ""
    address = ""
    status = 200
    if request.method == "GET" and auth.current_user(request) is not None:
        return HttpResponseRedirect(auth.safe_next(request, reverse("webmail:index")))
    if request.method == "POST":
        address = str(request.POST.get("address", ""))[:320]
        try:
            auth.log_in(request, address, str(request.POST.get("password", ""))[:1024])
        except auth.LoginRefused as exc:
            error, status = str(exc), exc.status
        else:
            return HttpResponseRedirect(auth.safe_next(request, reverse("webmail:index")))
    next_url = auth.safe_next(request, "")
    return render_template(
        request, "webmail/login.html", {"error": error, "address": address, "next": next_url}, status=status
    )


@webmail_headers
@require_http_methods(["GET"])
def handoff(request: HttpRequest) -> HttpResponse:
    """Cluster mode: the landing of a hand-off link from another node's webmail (auth.home_redirect)."""
    accepted = auth.accept_handoff(request, str(request.GET.get("t", "")))
    if accepted is None:
        return HttpResponseRedirect(reverse("webmail:login"))
    return HttpResponseRedirect(accepted[1])


@webmail_headers
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    auth.log_out(request)
    return HttpResponseRedirect(reverse("webmail:login"))
