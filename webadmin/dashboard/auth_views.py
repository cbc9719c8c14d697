"""Staff login with an optional TOTP second factor, and TOTP enrolment.

This is the one staff login: ``/admin/login/`` redirects here, so every staff login
goes through the login guard (``agents.loginguard``) and asks for the code where enrolled.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from agents.firststart import needs_first_admin
from agents.loginguard.db import client_ip, staff_guard, wait_text

from . import otp
from .access import OTP_SESSION_KEY, staff_required

DEFAULT_NEXT = "/dashboard/"


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or DEFAULT_NEXT
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return DEFAULT_NEXT
    return target


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Username and password, plus the code when the user enrolled TOTP: all or nothing."""
    error = ""
    status = 200
    if request.method == "POST":
        username = request.POST.get("username", "")[:150]
        ip = client_ip(request.META)
        guard = staff_guard()
        verdict = guard.check(ip, username)  # before the password is hashed
        if not verdict.allowed:
            guard.outcome("staff", "refused")
            error = f"Too many failed logins; try again in {wait_text(verdict.retry_after)}."
            status = 429
        else:
            user = authenticate(request, username=username, password=request.POST.get("password", ""))
            if user is None or not user.is_staff:
                error = "Wrong username or password, or not a staff account."
            elif otp.is_enrolled(user) and not otp.verify(user, request.POST.get("code", "")):
                error = "Enter the current 6-digit code from your authenticator app."
            else:
                guard.succeeded(ip, username, verdict, "staff")
                login(request, user)
                if otp.is_enrolled(user):
                    request.session[OTP_SESSION_KEY] = user.pk
                return redirect(_next(request))
            guard.failed(ip, username, "staff")  # no delay on the web: a worker must not sleep
            status = 400
    context = {"error": error, "next": _next(request), "first_start": needs_first_admin()}
    return render(request, "dashboard/login.html", context, status=status)


@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest) -> HttpResponse:
    """The second step for a session that logged in elsewhere (e.g. /admin/login/)."""
    if not request.user.is_authenticated:
        return redirect("dashboard:login")
    error = ""
    status = 200
    if request.method == "POST":
        username = request.user.get_username()
        ip = client_ip(request.META)
        guard = staff_guard()
        verdict = guard.check(ip, username)
        if not verdict.allowed:
            error = f"Too many wrong codes; try again in {wait_text(verdict.retry_after)}."
            status = 429
        elif otp.verify(request.user, request.POST.get("code", "")):
            guard.succeeded(ip, username, verdict)
            request.session[OTP_SESSION_KEY] = request.user.pk
            return redirect(_next(request))
        else:
            guard.failed(ip, username, "staff")
            error = "That code is not valid (or was used already)."
            status = 400
    return render(request, "dashboard/verify.html", {"error": error, "next": _next(request)}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("dashboard:login")


@require_http_methods(["GET", "POST"])
@staff_required
def otp_view(request: HttpRequest) -> HttpResponse:
    """Enrol (begin → scan → confirm with a code) or switch off the second factor."""
    user = request.user
    pending = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "begin" and not otp.is_enrolled(user):
            pending = otp.begin(user)
        elif action == "confirm":
            if otp.confirm(user, request.POST.get("code", "")):
                request.session[OTP_SESSION_KEY] = user.pk
                messages.success(request, "Two-factor login is on: login now asks for a code.")
                return redirect("dashboard:otp")
            messages.error(request, "That code does not match; scan the code again and retry.")
            pending = otp.begin(user)
        elif action == "disable":
            if otp.verify(user, request.POST.get("code", "")):
                otp.disable(user)
                request.session.pop(OTP_SESSION_KEY, None)
                messages.success(request, "Two-factor login is off.")
                return redirect("dashboard:otp")
            messages.error(request, "Give a current code to switch two-factor login off.")
    context = {"enrolled": otp.is_enrolled(user), "nav": "account"}
    if pending is not None:
        uri = otp.provisioning_uri(pending)
        context.update(uri=uri, qr=otp.qr_svg(uri), secret=pending.secret)
    return render(request, "dashboard/otp.html", context)
