"""Webmail views: parse the request, call one service function, render.

Every view but sign-in runs under :func:`auth.webmail_login_required` and opens
the store of the signed-in mailbox only (``_mailbox``); folder names and UIDs
from the URL are looked up inside it, so they cannot reach another user's mail.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render as render_template
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from agents.store.errors import FolderNotFound, InvalidFolderName, MessageGone, StoreError
from webadmin.models import Filter

from . import auth, compose, folders, render, usersettings
from .security import DOWNLOAD_CSP, harden, webmail_headers

MAX_UPLOAD_FILES = 20


# --- helpers ------------------------------------------------------------------------------


def _user(request: HttpRequest) -> auth.WebmailUser:
    return request.webmail_user  # type: ignore[attr-defined,no-any-return]


def _mailbox(request: HttpRequest) -> Any:
    return folders.open_mailbox(_user(request).address)


def _folder(mailbox: Any, name: str | None) -> Any:
    try:
        return mailbox.folder(name or "INBOX")
    except (FolderNotFound, InvalidFolderName) as exc:
        raise Http404("No such folder.") from exc


def _read(folder: Any, uid: int) -> bytes:
    try:
        return folder.read(uid)  # type: ignore[no-any-return]
    except MessageGone as exc:
        raise Http404("No such message.") from exc


def _list_url(folder: str, **extra: Any) -> str:
    return reverse("webmail:index") + "?" + urlencode({"folder": folder, **extra})


def _message_url(folder: str, uid: int, name: str = "webmail:message", **extra: Any) -> str:
    return reverse(name, args=[uid]) + "?" + urlencode({"folder": folder, **extra})


def _page(request: HttpRequest, template: str, mailbox: Any, **context: Any) -> HttpResponse:
    context.setdefault("current_folder", "")
    if "folders" not in context:
        context["folders"] = folders.folder_rows(mailbox)
    context["webmail_user"] = _user(request)
    context["usage"] = _usage(mailbox, _user(request).address)
    status = int(context.pop("status_code", 200))
    return render_template(request, f"webmail/{template}", context, status=status)


def _usage(mailbox: Any, address: str) -> dict[str, Any]:
    """Bytes used (kept by the index, no scan) against the quota (0 = unlimited)."""
    from agents import config

    info = config.get_mailbox(address)
    quota = info.quota if info else 0
    used = int(mailbox.usage())
    return {"used": used, "quota": quota, "percent": min(100, used * 100 // quota) if quota else 0}


def _uids(request: HttpRequest) -> list[int]:
    out = []
    for value in request.POST.getlist("uid")[:5000]:
        if value.isdigit():
            out.append(int(value))
    return out


# --- sign in and out ----------------------------------------------------------------------


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
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    auth.log_out(request)
    return HttpResponseRedirect(reverse("webmail:login"))


# --- lists --------------------------------------------------------------------------------


@webmail_headers
@auth.webmail_login_required
def index(request: HttpRequest) -> HttpResponse:
    mailbox = _mailbox(request)
    folder = _folder(mailbox, request.GET.get("folder"))
    page = int(request.GET["page"]) if str(request.GET.get("page", "")).isdigit() else 1
    listing = folders.listing(
        folder,
        page=page,
        sort=str(request.GET.get("sort", "arrival")),
        descending=request.GET.get("dir", "desc") != "asc",
        query=str(request.GET.get("q", "")),
        scope="body" if request.GET.get("scope") == "body" else "headers",
    )
    rows = folders.folder_rows(mailbox)
    base = {"folder": folder.name}
    if listing.query:
        base.update(q=listing.query, scope=listing.scope)
    state = {**base, "sort": listing.sort, "dir": "desc" if listing.descending else "asc"}
    sort_links, sort_marks = {}, {}
    for key in folders.SORTS:
        flip = "asc" if listing.sort == key and listing.descending else "desc"
        sort_links[key] = "?" + urlencode({**base, "sort": key, "dir": flip})
        sort_marks[key] = ("▼" if listing.descending else "▲") if listing.sort == key else ""
    return _page(
        request,
        "list.html",
        mailbox,
        current_folder=folder.name,
        listing=listing,
        sort_links=sort_links,
        sort_marks=sort_marks,
        prev_url="?" + urlencode({**state, "page": listing.page - 1}) if listing.page > 1 else "",
        next_url="?" + urlencode({**state, "page": listing.page + 1}) if listing.page < listing.pages else "",
        folders=rows,
        move_targets=[f.name for f in rows if f.name != folder.name],
        back=request.get_full_path(),
    )


@webmail_headers
@csrf_protect
@require_POST
@auth.webmail_login_required
def actions(request: HttpRequest) -> HttpResponse:
    """Bulk actions on the selected messages of one folder."""
    mailbox = _mailbox(request)
    folder = _folder(mailbox, request.POST.get("folder"))
    uids = _uids(request)
    action = str(request.POST.get("action", ""))
    back = str(request.POST.get("back", ""))
    if not back.startswith("/mail/") or "//" in back:
        back = _list_url(folder.name)
    try:
        if action == "empty_trash":
            count = folders.empty_trash(mailbox)
            messages.success(request, f"Trash emptied ({count} removed).")
            return HttpResponseRedirect(_list_url("Trash"))
        if not uids:
            messages.info(request, "Select messages first.")
        elif action in folders.MARKS:
            folders.mark(folder, uids, action)
        elif action == "delete":
            count = folders.delete(mailbox, folder, uids)
            messages.success(request, f"{count} deleted." if folder.name == "Trash" else f"{count} moved to Trash.")
        elif action == "move":
            dest = str(request.POST.get("dest", ""))
            count = folders.move(mailbox, folder, uids, dest)
            messages.success(request, f"{count} moved to {dest}.")
        else:
            messages.error(request, "Unknown action.")
    except (FolderNotFound, InvalidFolderName):
        messages.error(request, "No such folder.")
    except StoreError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(back)


# --- folders ------------------------------------------------------------------------------


@webmail_headers
@csrf_protect
@require_http_methods(["GET", "POST"])
@auth.webmail_login_required
def manage_folders(request: HttpRequest) -> HttpResponse:
    mailbox = _mailbox(request)
    if request.method == "POST":
        op = request.POST.get("op")
        name = str(request.POST.get("name", ""))[:500]
        try:
            if op == "create":
                folders.create_folder(mailbox, name)
                messages.success(request, f"Folder {name.strip()} created.")
            elif op == "rename":
                new = str(request.POST.get("new_name", ""))[:500]
                folders.rename_folder(mailbox, name, new)
                messages.success(request, f"Folder {name} renamed to {new.strip()}.")
            elif op == "delete":
                folders.delete_folder(mailbox, name)
                messages.success(request, f"Folder {name} deleted.")
        except StoreError as exc:
            messages.error(request, str(exc) or "That folder name cannot be used.")
        return HttpResponseRedirect(reverse("webmail:folders"))
    return _page(request, "folders.html", mailbox)


# --- reading ------------------------------------------------------------------------------


@webmail_headers
@auth.webmail_login_required
def message(request: HttpRequest, uid: int) -> HttpResponse:
    mailbox = _mailbox(request)
    folder = _folder(mailbox, request.GET.get("folder"))
    raw = _read(folder, uid)
    try:
        meta = folder.meta(uid)
    except MessageGone as exc:  # expunged by another session a moment ago
        raise Http404("No such message.") from exc
    if "\\Seen" not in meta.flags:
        folder.store_flags([uid], ["\\Seen"], "add")
    images = request.GET.get("images") == "1"
    shown = render.render(raw, allow_remote_images=images)
    rows = folders.folder_rows(mailbox)
    as_text = request.GET.get("view") == "text" and shown.text is not None
    body_url = _message_url(folder.name, uid, "webmail:body", **({"images": "1"} if images else {}))
    return _page(
        request,
        "message.html",
        mailbox,
        current_folder=folder.name,
        uid=uid,
        msg=shown,
        flagged="\\Flagged" in meta.flags,
        body_url=body_url if shown.html is not None and not as_text else "",
        text_toggle=_message_url(folder.name, uid, **({} if as_text else {"view": "text"}))
        if shown.html is not None and shown.text is not None
        else "",
        as_text=as_text,
        images_url=_message_url(folder.name, uid, images="1") if shown.remote_images and not images else "",
        part_urls=[(a, _message_url(folder.name, uid, "webmail:part", part=a.part_id)) for a in shown.attachments],
        source_url=_message_url(folder.name, uid, "webmail:source"),
        compose_url=reverse("webmail:compose"),
        ref=urlencode({"folder": folder.name, "uid": uid}),
        folders=rows,
        move_targets=[f.name for f in rows if f.name != folder.name],
        back=_list_url(folder.name),
        is_draft=folder.name == "Drafts",
    )


@auth.webmail_login_required
def body(request: HttpRequest, uid: int) -> HttpResponse:
    """The sanitised HTML body as its own document, for a sandboxed frame with a strict CSP."""
    mailbox = _mailbox(request)
    folder = _folder(mailbox, request.GET.get("folder"))
    images = request.GET.get("images") == "1"
    shown = render.render(_read(folder, uid), allow_remote_images=images)
    response = HttpResponse(render.frame_document(shown.html or ""), content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = render.frame_csp(images)
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.xframe_options_exempt = True  # type: ignore[attr-defined]
    return harden(response, render.frame_csp(images))


@auth.webmail_login_required
def part(request: HttpRequest, uid: int) -> HttpResponse:
    """One attachment, always as a download (never rendered by the browser)."""
    mailbox = _mailbox(request)
    folder = _folder(mailbox, request.GET.get("folder"))
    number = int(request.GET["part"]) if str(request.GET.get("part", "")).isdigit() else -1
    for found, piece in render.walk(render.parse(_read(folder, uid))):
        if found == number:
            name = render.filename_of(piece, found)
            ctype = piece.get_content_type()
            return _download(render.part_bytes(piece), name, ctype)
    raise Http404("No such part.")


@auth.webmail_login_required
def source(request: HttpRequest, uid: int) -> HttpResponse:
    """The raw message as a .eml download."""
    mailbox = _mailbox(request)
    folder = _folder(mailbox, request.GET.get("folder"))
    return _download(_read(folder, uid), f"message-{uid}.eml", "message/rfc822")


def _download(data: bytes, filename: str, content_type: str) -> HttpResponse:
    safe_type = content_type if not render.is_active_type(content_type) else "application/octet-stream"
    response = HttpResponse(data, content_type=safe_type)
    response.headers["Content-Disposition"] = render.content_disposition(filename)
    return harden(response, DOWNLOAD_CSP)


# --- writing ------------------------------------------------------------------------------


def _source_message(mailbox: Any, folder_name: str, uid: str) -> tuple[Any, int, bytes] | None:
    if not uid.isdigit():
        return None
    try:
        folder = mailbox.folder(folder_name or "INBOX")
        return folder, int(uid), folder.read(int(uid))
    except (FolderNotFound, InvalidFolderName, MessageGone):
        return None


def _initial(request: HttpRequest, mailbox: Any) -> tuple[dict[str, Any], list[render.Attachment]]:
    """Fields for a new compose form: blank, a reply, a forward or a saved draft."""
    user = _user(request)
    mode = str(request.GET.get("mode", ""))
    fields: dict[str, Any] = {"mode": mode, "to": str(request.GET.get("to", ""))[:500]}
    source = _source_message(mailbox, str(request.GET.get("folder", "")), str(request.GET.get("uid", "")))
    if source is None:
        fields["mode"] = ""
        return fields, []
    folder, uid, raw = source
    fields.update(source_folder=folder.name, source_uid=uid)
    attachments: list[render.Attachment] = []
    if mode in ("reply", "replyall"):
        own = compose_addresses(user.address)
        fields.update(compose.reply_fields(raw, own, reply_all=mode == "replyall"))
    elif mode == "forward":
        fields.update(compose.forward_fields(raw))
        attachments = render.render(raw).attachments
    elif mode == "forward_attach":
        fields.update(compose.forward_fields(raw))
        fields["body"] = ""
    elif mode == "draft" and folder.name == "Drafts":
        fields.update(compose.draft_fields(raw))
        attachments = render.render(raw).attachments
    else:
        fields["mode"] = ""
    return fields, attachments


def compose_addresses(address: str) -> set[str]:
    from agents import config

    return set(config.sender_addresses(address)) | {address}


@webmail_headers
@csrf_protect
@require_http_methods(["GET", "POST"])
@auth.webmail_login_required
def compose_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    mailbox = _mailbox(request)
    senders = sorted(compose_addresses(user.address))
    if request.method == "GET":
        fields, attachments = _initial(request, mailbox)
        fields.setdefault("from_addr", user.address)
        return _page(request, "compose.html", mailbox, f=fields, senders=senders, keep=attachments, error="")
    post = request.POST
    fields = {key: str(post.get(key, "")) for key in (
        "from_addr", "to", "cc", "bcc", "subject", "body", "in_reply_to", "references", "mode",
        "source_folder", "source_uid", "draft_uid",
    )}  # fmt: skip
    source = _source_message(mailbox, fields["source_folder"], fields["source_uid"])
    keep_ids = [int(v) for v in post.getlist("keep_part") if v.isdigit()]
    keep_choices = render.render(source[2]).attachments if source else []
    try:
        draft = compose.Draft(
            from_addr=fields["from_addr"] or user.address,
            to=fields["to"],
            cc=fields["cc"],
            bcc=fields["bcc"],
            subject=fields["subject"],
            body=fields["body"],
            in_reply_to=fields["in_reply_to"],
            references=fields["references"],
        )
        files = request.FILES.getlist("attachments")
        if len(files) > MAX_UPLOAD_FILES:
            raise compose.ComposeError(f"Attach at most {MAX_UPLOAD_FILES} files at a time.")
        if sum(upload.size or 0 for upload in files) > settings.MAILAPP_MAX_MESSAGE_SIZE:
            raise compose.ComposeError("The attachments are larger than a message may be.")
        for upload in files:
            draft.attachments.append(compose.upload_from_file(upload.name or "file", upload.read()))
        if source is not None:
            draft.attachments[:0] = compose.kept_parts(source[2], keep_ids)
            if fields["mode"] == "forward_attach":
                draft.forwarded.append(source[2])
        if "save_draft" in post:
            uid = _save_draft(mailbox, user, draft, fields["draft_uid"], source)
            messages.success(request, "Draft saved.")
            return HttpResponseRedirect(_message_url("Drafts", uid))
        sent = compose.send(user.address, user.name, draft, auth.client_ip(request))
    except compose.ComposeError as exc:
        kept = [a for a in keep_choices if a.part_id in keep_ids]
        return _page(
            request, "compose.html", mailbox, f=fields, senders=senders, keep=kept, error=str(exc), status_code=400
        )
    # The message is queued: from here on a store problem must not look like a failed send.
    try:
        mailbox.folder("Sent").append(sent.raw_for_sent, ["\\Seen"])
        if source is not None and fields["mode"] in ("reply", "replyall"):
            source[0].store_flags([source[1]], ["\\Answered"], "add")
        if source is not None and fields["mode"] in ("forward", "forward_attach"):
            source[0].store_flags([source[1]], ["$Forwarded"], "add")
        _drop_old_draft(mailbox, fields["draft_uid"], source)
    except (StoreError, OSError) as exc:
        messages.warning(request, f"Sent, but the copy in Sent or the draft could not be updated ({exc}).")
    messages.success(request, f"Message sent to {', '.join(sent.recipients)}.")
    return HttpResponseRedirect(_list_url("INBOX"))


def _save_draft(mailbox: Any, user: auth.WebmailUser, draft: compose.Draft, old_uid: str, source: Any) -> int:
    compose.clean_draft(draft)
    msg = compose.build_message(draft, sender_name=user.name, include_bcc=True)
    uid = int(mailbox.folder("Drafts").append(compose.to_bytes(msg), ["\\Draft", "\\Seen"]))
    _drop_old_draft(mailbox, old_uid, source)
    return uid


def _drop_old_draft(mailbox: Any, old_uid: str, source: Any) -> None:
    """A saved or sent draft replaces the one it was continued from."""
    if old_uid.isdigit():
        mailbox.folder("Drafts").expunge([int(old_uid)])
    elif source is not None and source[0].name == "Drafts":
        mailbox.folder("Drafts").expunge([source[1]])


# --- settings -----------------------------------------------------------------------------


@webmail_headers
@csrf_protect
@require_http_methods(["GET", "POST"])
@auth.webmail_login_required
def settings_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        what = request.POST.get("what")
        try:
            if what == "password":
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
                )
                messages.success(request, "Vacation auto-reply saved.")
            elif what == "forwarding":
                usersettings.set_forwarding(
                    user.id,
                    bool(request.POST.get("active")),
                    str(request.POST.get("address", "")),
                    request.POST.get("keep") == "1",
                )
                messages.success(request, "Forwarding saved.")
        except usersettings.SettingsError as exc:
            messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("webmail:settings"))
    return _page(
        request,
        "settings.html",
        _mailbox(request),
        filters=usersettings.filters_of(user.id),
        vacation=usersettings.vacation_of(user.id),
        forwarding=usersettings.forwarding_of(user.id),
    )


@webmail_headers
@csrf_protect
@require_http_methods(["GET", "POST"])
@auth.webmail_login_required
def filter_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = _user(request)
    try:
        rule = usersettings.own_filter(user.id, pk) if pk is not None else None
    except Filter.DoesNotExist as exc:
        raise Http404("No such filter.") from exc
    error = ""
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
            form = _form_from_post(request.POST)
        else:
            messages.success(request, "Filter saved.")
            return HttpResponseRedirect(reverse("webmail:settings"))
    return _page(
        request,
        "filter.html",
        _mailbox(request),
        form=form,
        rule=rule,
        error=error,
        fields=Filter.FIELDS,
        ops=Filter.OPS,
        kinds=Filter.ACTIONS,
        status_code=400 if error else 200,
    )


def _form_from_post(post: Any) -> usersettings.FilterForm:
    form = usersettings.FilterForm(
        name=str(post.get("name", "")),
        active=bool(post.get("active")),
        match="any" if post.get("match") == "any" else "all",
        stop=bool(post.get("stop")),
    )
    form.conditions = [
        {"field": post.get(f"cond{i}_field", ""), "op": post.get(f"cond{i}_op", ""),
         "header": post.get(f"cond{i}_header", ""), "value": post.get(f"cond{i}_value", "")}
        for i in range(usersettings.CONDITION_ROWS)
    ]  # fmt: skip
    form.actions = []
    for i in range(usersettings.ACTION_ROWS):
        kind = post.get(f"act{i}_action", "")
        arg = post.get(f"act{i}_arg", "")
        form.actions.append(
            {"action": kind, "folder": arg, "address": arg, "subject": arg,
             "body": post.get(f"act{i}_body", ""), "days": post.get(f"act{i}_days", "")}
        )  # fmt: skip
    return form
