"""The user's settings page and the filter editor."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from agents.fetch.status import sources_of
from webadmin import apppasswords, rules, rulescript
from webadmin.models import Filter, Mailbox

from .. import auth, usersettings
from ..security import webmail_headers
from .common import mailbox_of, render_page, user_of


@webmail_headers
@csrf_protect
@require_http_methods(["GET", "POST"])
@auth.webmail_login_required
def settings_view(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    new_app_password = ""
    if request.method == "POST":
        what = request.POST.get("what")
        try:
            if what == "app_password":
                # Rendered, not redirected: the secret is shown in this response only.
                _row, new_app_password = apppasswords.issue_from_form(Mailbox.objects.get(pk=user.id), request.POST)
            elif what == "app_password_revoke":
                if apppasswords.revoke(user.id, request.POST.get("id", "")):
                    messages.success(request, "App password revoked: it no longer opens your mail.")
            elif what == "require_app_passwords":
                mailbox = Mailbox.objects.get(pk=user.id)
                mailbox.require_app_passwords = request.POST.get("active") == "1"
                mailbox.save(update_fields=["require_app_passwords"])
                messages.success(request, "Saved.")
            elif what == "password":
                usersettings.change_password(
                    user.id,
                    str(request.POST.get("old_password", "")),
                    str(request.POST.get("new_password", "")),
                    str(request.POST.get("new_password2", "")),
                )
                auth.refresh_password_digest(request, user.id)
                messages.success(request, "Password changed.")
            elif what == "vacation":
                usersettings.set_vacation(
                    user.id,
                    bool(request.POST.get("active")),
                    str(request.POST.get("subject", "")),
                    str(request.POST.get("body", "")),
                    request.POST.get("days", "7"),
                    str(request.POST.get("start", "")),
                    str(request.POST.get("end", "")),
                )
                messages.success(request, "Vacation auto-reply saved.")
                _warn_not_running(request, user.id)
            elif what == "forwarding":
                usersettings.set_forwarding(
                    user.id,
                    bool(request.POST.get("active")),
                    str(request.POST.get("address", "")),
                    request.POST.get("keep") == "1",
                )
                messages.success(request, "Forwarding saved.")
                _warn_not_running(request, user.id)
        except usersettings.SettingsError as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            messages.error(request, apppasswords.error_text(exc))
        if not new_app_password:
            return HttpResponseRedirect(reverse("webmail:settings"))
    return render_page(
        request,
        "settings.html",
        mailbox_of(request),
        filters=[(rule, *rules.describe(rule)) for rule in usersettings.filters_of(user.id)],
        scripts=rulescript.scripts_of(user.id),
        rule_status=rulescript.status(user.id),
        vacation=usersettings.vacation_of(user.id),
        forwarding=usersettings.forwarding_of(user.id),
        external_sources=sources_of(user.id),  # agents.fetch: other accounts collected into this mailbox
        app_passwords=apppasswords.of(user.id),
        app_password_scopes=apppasswords.scope_choices(),
        new_app_password=new_app_password,
        require_app_passwords=Mailbox.objects.filter(pk=user.id, require_app_passwords=True).exists(),
    )


@webmail_headers
@csrf_protect
@require_http_methods(["GET", "POST"])
@auth.webmail_login_required
def filter_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = user_of(request)
    try:
        rule = usersettings.own_filter(user.id, pk) if pk is not None else None
    except Filter.DoesNotExist as exc:
        raise Http404("No such filter.") from exc
    error = rulescript.hand_written_note(user.id)
    form = usersettings.FilterForm.from_filter(rule)
    if request.method == "POST":
        if "delete" in request.POST and pk is not None:
            usersettings.delete_filter(user.id, pk)
            messages.success(request, "Filter deleted.")
            return HttpResponseRedirect(reverse("webmail:settings"))
        try:
            usersettings.save_filter(user.id, request.POST, pk)
        except usersettings.SettingsError as exc:
            error = str(exc)
            form = usersettings.FilterForm.from_post(request.POST)
        else:
            messages.success(request, "Filter saved.")
            _warn_not_running(request, user.id)
            return HttpResponseRedirect(reverse("webmail:settings"))
    return render_page(
        request,
        "filter.html",
        mailbox_of(request),
        form=form,
        rule=rule,
        error=error,
        **rules.builder_context(),
        status_code=400 if error and request.method == "POST" else 200,
    )



def _warn_not_running(request: HttpRequest, mailbox_id: int) -> None:
    note = rulescript.not_running_note(mailbox_id)
    if note:
        messages.warning(request, note)
