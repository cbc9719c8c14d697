"""Compose workflows on the user's own store: prefill from a message, save drafts, file sent mail.

``compose`` builds and sends messages and knows nothing of folders; this module
ties it to the mailbox: which message a reply or forward starts from, where a
draft goes, and what a send leaves behind (the Sent copy, ``\\Answered`` or
``$Forwarded`` on the original, the continued draft removed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from agents import config
from agents.store import Folder, MailboxStore
from agents.store.errors import FolderNotFound, InvalidFolderName, MessageGone

from . import compose, render

MAX_UPLOAD_FILES = 20
REPLY_MODES = ("reply", "replyall")
FORWARD_MODES = ("forward", "forward_attach")
FIELDS = ("from_addr", "to", "cc", "bcc", "subject", "body", "in_reply_to", "references", "mode",
          "source_folder", "source_uid")  # fmt: skip


@dataclass
class Source:
    """The message a reply, forward or continued draft starts from (always in the user's mailbox)."""

    folder: Folder
    uid: int
    raw: bytes


def find_source(mailbox: MailboxStore, folder_name: str, uid: str) -> Source | None:
    if not str(uid).isdigit() or len(str(uid)) > 10 or not 0 < int(uid) < 2**32:
        return None
    try:
        folder = mailbox.folder(folder_name or "INBOX")
        return Source(folder, int(uid), folder.read(int(uid)))
    except (FolderNotFound, InvalidFolderName, MessageGone):
        return None


def sender_choices(address: str) -> list[str]:
    """The From addresses this mailbox may use (the port 587 rule)."""
    return sorted(set(config.sender_addresses(address)) | {address})


def prefill(mailbox: MailboxStore, address: str, mode: str, source: Source | None) -> tuple[dict[str, Any], list[Any]]:
    """Fields for a new compose form (blank, reply, reply-all, forward, or a saved draft) and attachments to keep."""
    fields: dict[str, Any] = {"mode": mode, "from_addr": address}
    if source is None:
        fields["mode"] = ""
        return fields, []
    fields.update(source_folder=source.folder.name, source_uid=source.uid)
    attachments: list[render.Attachment] = []
    if mode in REPLY_MODES:
        fields.update(compose.reply_fields(source.raw, set(sender_choices(address)), reply_all=mode == "replyall"))
    elif mode == "forward":
        fields.update(compose.forward_fields(source.raw))
        attachments = render.render(source.raw).attachments
    elif mode == "forward_attach":
        fields.update(compose.forward_fields(source.raw))
        fields["body"] = ""
    elif mode == "draft" and source.folder.name == "Drafts":
        fields.update(compose.draft_fields(source.raw))
        attachments = render.render(source.raw).attachments
    else:
        fields["mode"] = ""
    return fields, attachments


def draft_from_form(
    fields: dict[str, str], uploads: list[Any], source: Source | None, keep_ids: Iterable[int], default_from: str
) -> compose.Draft:
    """The compose form as a Draft: typed fields, uploaded files, kept parts of the source, a forwarded original.

    ``uploads`` are Django ``UploadedFile`` objects; their total size is checked
    before any is read. Raises ComposeError.
    """
    if len(uploads) > MAX_UPLOAD_FILES:
        raise compose.ComposeError(f"Attach at most {MAX_UPLOAD_FILES} files at a time.")
    if sum(upload.size or 0 for upload in uploads) > settings.MAILAPP_MAX_MESSAGE_SIZE:
        raise compose.ComposeError("The attachments are larger than a message may be.")
    draft = compose.Draft(
        from_addr=fields["from_addr"] or default_from,
        to=fields["to"],
        cc=fields["cc"],
        bcc=fields["bcc"],
        subject=fields["subject"],
        body=fields["body"],
        in_reply_to=fields["in_reply_to"],
        references=fields["references"],
    )
    if source is not None:
        draft.attachments.extend(compose.kept_parts(source.raw, list(keep_ids)))
        if fields["mode"] == "forward_attach":
            draft.forwarded.append(source.raw)
    for upload in uploads:
        draft.attachments.append(compose.upload_from_file(upload.name or "file", upload.read()))
    return draft


def save_draft(mailbox: MailboxStore, sender_name: str, draft: compose.Draft, source: Source | None, mode: str) -> int:
    """Store the draft in Drafts (``\\Draft \\Seen``); a continued draft replaces the old one. Returns its UID."""
    msg = compose.build_message(draft, sender_name=sender_name, include_bcc=True)
    uid = int(mailbox.folder("Drafts").append(compose.to_bytes(msg), ["\\Draft", "\\Seen"]))
    _drop_continued_draft(source, mode)
    return uid


def file_sent(mailbox: MailboxStore, sent: compose.Sent, source: Source | None, mode: str) -> None:
    """After a send: the copy in Sent, the original marked answered or forwarded, the draft removed."""
    mailbox.folder("Sent").append(sent.raw_for_sent, ["\\Seen"])
    if source is not None and mode in REPLY_MODES:
        source.folder.store_flags([source.uid], ["\\Answered"], "add")
    if source is not None and mode in FORWARD_MODES:
        source.folder.store_flags([source.uid], ["$Forwarded"], "add")
    _drop_continued_draft(source, mode)


def _drop_continued_draft(source: Source | None, mode: str) -> None:
    if source is not None and mode == "draft" and source.folder.name == "Drafts":
        source.folder.expunge([source.uid])
