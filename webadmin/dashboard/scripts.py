"""A mailbox's Sieve scripts in the dashboard: activate, edit in a plain editor, rename, delete.

Tenancy as everywhere here: the mailbox comes from ``domains.mailbox_for`` (a domain
admin reaches only their domains' mailboxes), and every script name is looked up among
that mailbox's scripts only (``webadmin.sievescripts``, the functions ManageSieve uses).
Deleting goes through a confirmation page, like every deletion in the dashboard.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from webadmin import rulescript, sievescripts
from webadmin.models import Mailbox
from webadmin.scriptedit import edit_script

from . import domains as domain_service
from .access import staff_required


def _mailbox_or_404(request: HttpRequest, name: str, local_part: str) -> Mailbox:
    found = domain_service.mailbox_for(request.user, name, local_part)
    if found is None:
        raise Http404("No such mailbox among your domains.")
    return found


def _back(mailbox: Mailbox) -> HttpResponse:
    url = reverse("dashboard:mailbox", kwargs={"name": mailbox.domain.name, "local_part": mailbox.local_part})
    return redirect(url + "#scripts")


@require_http_methods(["POST"])
@staff_required
def script_activate(request: HttpRequest, name: str, local_part: str) -> HttpResponse:
    mailbox = _mailbox_or_404(request, name, local_part)
    script = str(request.POST.get("name", ""))
    try:
        sievescripts.set_active(mailbox.pk, script)
    except sievescripts.ScriptError as exc:
        raise Http404("No such script.") from exc
    messages.success(request, f"“{script}” is now the active script of {mailbox.address}." if script
                     else f"No script is active for {mailbox.address} now.")
    return _back(mailbox)


@require_http_methods(["GET", "POST"])
@staff_required
def script_edit(request: HttpRequest, name: str, local_part: str) -> HttpResponse:
    mailbox = _mailbox_or_404(request, name, local_part)
    original = str(request.GET.get("name", ""))
    edit = edit_script(mailbox.pk, original, request.POST if request.method == "POST" else None,
                       'require ["fileinto"];\n')
    if edit.saved:
        messages.success(request, f"Script “{edit.name.strip()}” of {mailbox.address} saved.")
        return _back(mailbox)
    context = {"mailbox": mailbox, "original": original, "nav": "domains", **edit.context()}
    return render(request, "dashboard/script.html", context, status=400 if edit.error else 200)


@require_http_methods(["GET", "POST"])
@staff_required
def script_delete(request: HttpRequest, name: str, local_part: str) -> HttpResponse:
    mailbox = _mailbox_or_404(request, name, local_part)
    script = str(request.GET.get("name", ""))
    try:
        text = sievescripts.get_script(mailbox.pk, script)
    except sievescripts.ScriptError as exc:
        raise Http404("No such script.") from exc
    active = dict(sievescripts.list_scripts(mailbox.pk)).get(script, False)
    error = ""
    if request.method == "POST":
        try:
            sievescripts.delete_script(mailbox.pk, script)
        except sievescripts.ScriptError as exc:
            error = "This is the active script: make another one active (or none) first." \
                if exc.code == "ACTIVE" else exc.text
        else:
            messages.success(request, f"Script “{script}” of {mailbox.address} deleted.")
            return _back(mailbox)
    context = {"mailbox": mailbox, "name": script, "lines": len(text.splitlines()), "active": active, "error": error,
               "builder_made": script == rulescript.SCRIPT_NAME and not rulescript.hand_written(mailbox.pk),
               "nav": "domains"}
    return render(request, "dashboard/script_delete.html", context, status=400 if error else 200)
