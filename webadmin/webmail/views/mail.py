"""Folders, message lists, bulk actions and reading (with the body frame, parts and the raw source)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from agents.store import Folder, MailboxStore
from agents.store.errors import FolderNotFound, InvalidFolderName, MessageGone, StoreError

from .. import auth, folders, render
from ..security import DOWNLOAD_CSP, harden, webmail_headers
from .common import folder_or_404, list_url, mailbox_of, message_url, posted_uids, read_or_404, render_page


@webmail_headers
@auth.webmail_login_required
def index(request: HttpRequest) -> HttpResponse:
    mailbox = mailbox_of(request)
    folder = folder_or_404(mailbox, request.GET.get("folder"))
    page_text = str(request.GET.get("page", ""))[:9]
    page = int(page_text) if page_text.isdigit() else 1
    scope = "body" if request.GET.get("scope") == "body" else "headers"
    query = str(request.GET.get("q", ""))
    if request.GET.get("where") == "all" and query.strip():
        return _everywhere(request, mailbox, folder, query, scope, page)
    listing = folders.listing(
        folder,
        page=page,
        sort=str(request.GET.get("sort", "arrival")),
        descending=request.GET.get("dir", "desc") != "asc",
        query=query,
        scope=scope,
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
    return render_page(
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
        current_exists=folder.exists,
        outgoing=folders.is_outgoing(folder),
    )


def _everywhere(
    request: HttpRequest, mailbox: MailboxStore, folder: Folder, query: str, scope: str, page: int
) -> HttpResponse:
    """Search results from every folder: read-only lines that open each message in its own folder."""
    listing = folders.search_everywhere(mailbox, query, scope, page)
    state = {"folder": folder.name, "q": listing.query, "scope": listing.scope, "where": "all"}
    return render_page(
        request,
        "list.html",
        mailbox,
        current_folder=folder.name,
        listing=listing,
        everywhere=True,
        prev_url="?" + urlencode({**state, "page": listing.page - 1}) if listing.page > 1 else "",
        next_url="?" + urlencode({**state, "page": listing.page + 1}) if listing.page < listing.pages else "",
        back=request.get_full_path(),
        current_exists=folder.exists,
    )


@auth.webmail_login_required
def status(request: HttpRequest) -> JsonResponse:
    """Counts of every folder, for the page script that shows new mail without a reload."""
    mailbox = mailbox_of(request)
    rows = []
    for row in folders.folder_rows(mailbox):
        rows.append({"name": row.name, "exists": row.exists, "unseen": row.unseen})
    return harden(JsonResponse({"folders": rows}), DOWNLOAD_CSP)  # type: ignore[return-value]


@webmail_headers
@csrf_protect
@require_POST
@auth.webmail_login_required
def actions(request: HttpRequest) -> HttpResponse:
    """Bulk actions on the selected messages of one folder."""
    mailbox = mailbox_of(request)
    folder = folder_or_404(mailbox, request.POST.get("folder"))
    uids = posted_uids(request)
    action = str(request.POST.get("action", ""))
    back = str(request.POST.get("back", ""))
    if not back.startswith("/mail/") or any(bad in back for bad in ("//", "..", "\\", "\r", "\n")):
        back = list_url(folder.name)
    try:
        if action == "empty_trash":
            count = folders.empty_trash(mailbox)
            messages.success(request, f"Trash emptied ({count} removed).")
            return HttpResponseRedirect(list_url("Trash"))
        if not uids:
            messages.info(request, "Select messages first.")
        elif action in folders.MARKS:
            folders.mark(folder, uids, action)
        elif action == "delete":
            count = folders.delete(mailbox, folder, uids)
            messages.success(request, f"{count} deleted." if folder.name == "Trash" else f"{count} moved to Trash.")
        elif action == "move" and not request.POST.get("dest"):
            messages.info(request, "Choose the folder to move to first.")
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


@webmail_headers
@csrf_protect
@require_http_methods(["GET", "POST"])
@auth.webmail_login_required
def manage_folders(request: HttpRequest) -> HttpResponse:
    mailbox = mailbox_of(request)
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
    return render_page(request, "folders.html", mailbox)


@webmail_headers
@auth.webmail_login_required
def message(request: HttpRequest, uid: int) -> HttpResponse:
    mailbox = mailbox_of(request)
    folder = folder_or_404(mailbox, request.GET.get("folder"))
    raw = read_or_404(folder, uid)
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
    body_url = message_url(folder.name, uid, "webmail:body", **({"images": "1"} if images else {}))
    return render_page(
        request,
        "message.html",
        mailbox,
        current_folder=folder.name,
        uid=uid,
        msg=shown,
        flagged="\\Flagged" in meta.flags,
        body_url=body_url if shown.html is not None and not as_text else "",
        text_toggle=message_url(folder.name, uid, **({} if as_text else {"view": "text"}))
        if shown.html is not None and shown.text is not None
        else "",
        as_text=as_text,
        images_url=message_url(folder.name, uid, images="1") if shown.remote_images and not images else "",
        part_urls=[(a, message_url(folder.name, uid, "webmail:part", part=a.part_id)) for a in shown.attachments],
        source_url=message_url(folder.name, uid, "webmail:source"),
        compose_url=reverse("webmail:compose"),
        ref=urlencode({"folder": folder.name, "uid": uid}),
        folders=rows,
        move_targets=[f.name for f in rows if f.name != folder.name],
        back=list_url(folder.name),
        is_draft=folder.name == "Drafts",
    )


@auth.webmail_login_required
def body(request: HttpRequest, uid: int) -> HttpResponse:
    """The sanitised HTML body as its own document, for a sandboxed frame with a strict CSP."""
    mailbox = mailbox_of(request)
    folder = folder_or_404(mailbox, request.GET.get("folder"))
    images = request.GET.get("images") == "1"
    shown = render.render(read_or_404(folder, uid), allow_remote_images=images)
    response = HttpResponse(render.frame_document(shown.html or ""), content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = render.frame_csp(images)
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.xframe_options_exempt = True  # type: ignore[attr-defined]
    return harden(response, render.frame_csp(images))


@auth.webmail_login_required
def part(request: HttpRequest, uid: int) -> HttpResponse:
    """One attachment, always as a download (never rendered by the browser)."""
    mailbox = mailbox_of(request)
    folder = folder_or_404(mailbox, request.GET.get("folder"))
    number_text = str(request.GET.get("part", ""))[:9]
    number = int(number_text) if number_text.isdigit() else -1
    for found, piece in render.walk(render.parse(read_or_404(folder, uid))):
        if found == number:
            name = render.filename_of(piece, found)
            ctype = piece.get_content_type()
            return _download(render.part_bytes(piece), name, ctype)
    raise Http404("No such part.")


@auth.webmail_login_required
def source(request: HttpRequest, uid: int) -> HttpResponse:
    """The raw message as a .eml download."""
    mailbox = mailbox_of(request)
    folder = folder_or_404(mailbox, request.GET.get("folder"))
    return _download(read_or_404(folder, uid), f"message-{uid}.eml", "message/rfc822")


def _download(data: bytes, filename: str, content_type: str) -> HttpResponse:
    safe_type = content_type if not render.is_active_type(content_type) else "application/octet-stream"
    response = HttpResponse(data, content_type=safe_type)
    response.headers["Content-Disposition"] = render.content_disposition(filename)
    return harden(response, DOWNLOAD_CSP)
