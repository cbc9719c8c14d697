"""What every webmail view shares: the signed-in user's store, 404s for what is not theirs, the page frame.

Every view but sign-in runs under :func:`auth.webmail_login_required` and opens
the store of the signed-in mailbox only (:func:`mailbox_of`); folder names and
UIDs from the URL are looked up inside it, so they cannot reach another user's mail.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render as render_template
from django.urls import reverse

from agents.store import Folder, MailboxStore
from agents.store.errors import FolderNotFound, InvalidFolderName, MessageGone

from .. import auth, folders


def user_of(request: HttpRequest) -> auth.WebmailUser:
    return request.webmail_user  # type: ignore[attr-defined,no-any-return]


def mailbox_of(request: HttpRequest) -> MailboxStore:
    return folders.open_mailbox(user_of(request).address)


def folder_or_404(mailbox: MailboxStore, name: str | None) -> Folder:
    try:
        return mailbox.folder(name or "INBOX")
    except (FolderNotFound, InvalidFolderName) as exc:
        raise Http404("No such folder.") from exc


MAX_UID = 2**32 - 1  # IMAP UIDs are 32-bit; a larger number names no message


def read_or_404(folder: Folder, uid: int) -> bytes:
    if not 0 < uid <= MAX_UID:
        raise Http404("No such message.")
    try:
        return folder.read(uid)  # type: ignore[no-any-return]
    except MessageGone as exc:
        raise Http404("No such message.") from exc


def list_url(folder: str, **extra: Any) -> str:
    return reverse("webmail:index") + "?" + urlencode({"folder": folder, **extra})


def message_url(folder: str, uid: int, name: str = "webmail:message", **extra: Any) -> str:
    return reverse(name, args=[uid]) + "?" + urlencode({"folder": folder, **extra})


def render_page(request: HttpRequest, template: str, mailbox: MailboxStore, **context: Any) -> HttpResponse:
    context.setdefault("current_folder", "")
    if "folders" not in context:
        context["folders"] = folders.folder_rows(mailbox)
    context["webmail_user"] = user_of(request)
    context["usage"] = usage(mailbox, user_of(request).address)
    status = int(context.pop("status_code", 200))
    return render_template(request, f"webmail/{template}", context, status=status)


def usage(mailbox: MailboxStore, address: str) -> dict[str, Any]:
    """Bytes used (kept by the index, no scan) against the quota (0 = unlimited)."""
    from agents import config

    info = config.get_mailbox(address)
    quota = info.quota if info else 0
    used = int(mailbox.usage())
    return {"used": used, "quota": quota, "percent": min(100, used * 100 // quota) if quota else 0}


def posted_uids(request: HttpRequest) -> list[int]:
    out = []
    for value in request.POST.getlist("uid")[:5000]:
        if value.isdigit() and len(value) <= 10 and 0 < int(value) <= MAX_UID:
            out.append(int(value))
    return out


