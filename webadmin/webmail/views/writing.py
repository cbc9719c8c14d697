"""The compose page: new mail, replies, forwards and drafts (the work is in ``writing`` and ``compose``)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from agents.store.errors import StoreError

from .. import auth, compose, render, writing
from ..security import webmail_headers
from .common import list_url, mailbox_of, message_url, render_page, user_of


@webmail_headers
@csrf_protect
@require_http_methods(["GET", "POST"])
@auth.webmail_login_required
def compose_view(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    mailbox = mailbox_of(request)
    senders = writing.sender_choices(user.address)
    if request.method == "GET":
        source = writing.find_source(mailbox, str(request.GET.get("folder", "")), str(request.GET.get("uid", "")))
        fields, keep = writing.prefill(mailbox, user.address, str(request.GET.get("mode", "")), source)
        fields.setdefault("to", str(request.GET.get("to", ""))[:500])
        return render_page(request, "compose.html", mailbox, f=fields, senders=senders, keep=keep, error="")
    fields = {key: str(request.POST.get(key, "")) for key in writing.FIELDS}
    source = writing.find_source(mailbox, fields["source_folder"], fields["source_uid"])
    keep_ids = [int(v) for v in request.POST.getlist("keep_part") if v.isdigit()]
    try:
        draft = writing.draft_from_form(fields, request.FILES.getlist("attachments"), source, keep_ids, user.address)
        if "save_draft" in request.POST:
            uid = writing.save_draft(mailbox, user.name, draft, source, fields["mode"])
            messages.success(request, "Draft saved.")
            return HttpResponseRedirect(message_url("Drafts", uid))
        sent = compose.send(user.address, user.name, draft, auth.client_ip(request))
    except compose.ComposeError as exc:
        choices = render.render(source.raw).attachments if source else []
        keep = [a for a in choices if a.part_id in keep_ids]
        return render_page(
            request, "compose.html", mailbox, f=fields, senders=senders, keep=keep, error=str(exc), status_code=400
        )
    try:  # the message is queued: from here on a store problem must not look like a failed send
        writing.file_sent(mailbox, sent, source, fields["mode"])
    except (StoreError, OSError) as exc:
        messages.warning(request, f"Sent, but the copy in Sent or the draft could not be updated ({exc}).")
    messages.success(request, f"Message sent to {', '.join(sent.recipients)}.")
    return HttpResponseRedirect(list_url("INBOX"))
