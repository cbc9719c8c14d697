"""The user's Sieve scripts in webmail: activate, edit in a plain editor, rename, delete.

Every name is looked up among the signed-in mailbox's own scripts only
(``webadmin.sievescripts``, the functions ManageSieve uses), so no name reaches
another user's script. A script that does not check comes back as a form error with
its line; nothing is stored then.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from webadmin import rulescript, sievescripts
from webadmin.scriptedit import edit_script

from .. import auth
from ..security import webmail_headers
from .common import mailbox_of, render_page, user_of

NEW_SCRIPT = 'require ["fileinto"];\n\n# if header :contains "Subject" "[list]" {\n#     fileinto "Lists";\n# }\n'


def _back() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("webmail:settings") + "#scripts")


@webmail_headers
@csrf_protect
@require_http_methods(["POST"])
@auth.webmail_login_required
def script_activate(request: HttpRequest) -> HttpResponse:
    """Make the posted script the active one, or (``name`` empty) run none."""
    name = str(request.POST.get("name", ""))
    try:
        sievescripts.set_active(user_of(request).id, name)
    except sievescripts.ScriptError as exc:
        raise Http404("No such script.") from exc
    messages.success(request, f"“{name}” now sorts your mail." if name else "No script sorts your mail now.")
    return _back()


@webmail_headers
@csrf_protect
@require_http_methods(["GET", "POST"])
@auth.webmail_login_required
def script_edit(request: HttpRequest) -> HttpResponse:
    """The plain editor: ``?name=`` edits (and may rename) that script, no name makes a new one."""
    mailbox_id = user_of(request).id
    original = str(request.GET.get("name", ""))
    edit = edit_script(mailbox_id, original, request.POST if request.method == "POST" else None, NEW_SCRIPT)
    if edit.saved:
        messages.success(request, f"Script “{edit.name.strip()}” saved.")
        return _back()
    return render_page(request, "script.html", mailbox_of(request), original=original, **edit.context(),
                       status_code=400 if edit.error else 200)


@webmail_headers
@csrf_protect
@require_http_methods(["GET", "POST"])
@auth.webmail_login_required
def script_delete(request: HttpRequest) -> HttpResponse:
    """A confirmation page (GET), then the deletion (POST)."""
    mailbox_id = user_of(request).id
    name = str(request.GET.get("name", ""))
    try:
        text = sievescripts.get_script(mailbox_id, name)
    except sievescripts.ScriptError as exc:
        raise Http404("No such script.") from exc
    error = ""
    active = dict(sievescripts.list_scripts(mailbox_id)).get(name, False)
    if request.method == "POST":
        try:
            sievescripts.delete_script(mailbox_id, name)
        except sievescripts.ScriptError as exc:
            error = "This script is the active one: make another active (or none) first." \
                if exc.code == "ACTIVE" else exc.text
        else:
            messages.success(request, f"Script “{name}” deleted.")
            return _back()
    return render_page(request, "script_delete.html", mailbox_of(request), name=name, lines=len(text.splitlines()),
                       builder_made=name == rulescript.SCRIPT_NAME and not rulescript.hand_written(mailbox_id),
                       active=active, error=error, status_code=400 if error else 200)
