"""Configuration of the fetcher: the external sources (``webadmin.models.ExternalSource``) of mailboxes.

A poll runs every few minutes per source, not per message: these reads go to the
database every time (no cache), so a source paused, changed or deleted in the
admin is seen by the very next poll.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from agents.db import fresh_connection
from mailcore import secret


@dataclass(frozen=True)
class SourceInfo:
    id: int
    mailbox_id: int
    mailbox: str  # the address mail is collected into
    active: bool  # the source and its mailbox both active
    protocol: str  # "pop3" | "imap"
    protocol_label: str  # for people: "POP3", "IMAP"
    host: str
    port: int  # the effective port (the protocol's standard one when 0 is stored)
    tls: str  # "tls" | "starttls" | "none"
    verify_certificate: bool
    login: str
    folder: str
    keep: bool
    interval: int  # seconds between polls
    password_encrypted: str

    def password(self) -> str:
        """The clear password (never log it). Raises ValueError when it cannot be decrypted."""
        return secret.decrypt(self.password_encrypted, str(settings.SECRET_KEY))


def _info(row) -> SourceInfo:  # type: ignore[no-untyped-def]
    return SourceInfo(
        id=row.pk, mailbox_id=row.mailbox_id, mailbox=row.mailbox.address,
        active=row.active and row.mailbox.active, protocol=row.protocol, protocol_label=row.get_protocol_display(),
        host=row.host, port=row.effective_port(), tls=row.tls, verify_certificate=row.verify_certificate,
        login=row.login, folder=row.folder or "INBOX", keep=row.keep, interval=row.interval,
        password_encrypted=row.password_encrypted,
    )  # fmt: skip


def source(source_id: int) -> SourceInfo | None:
    """The external source ``source_id``, or None if it is gone."""
    from webadmin.models import ExternalSource

    fresh_connection()
    row = ExternalSource.objects.select_related("mailbox__domain").filter(pk=source_id).first()
    return _info(row) if row else None


def sources_of(mailbox_id: int) -> list[SourceInfo]:
    """The sources collected into one mailbox, by host and login."""
    from webadmin.models import ExternalSource

    fresh_connection()
    rows = ExternalSource.objects.select_related("mailbox__domain").filter(mailbox_id=mailbox_id)
    return [_info(row) for row in rows.order_by("host", "login")]


def active_source_ids() -> list[int]:
    """Ids of the active sources of active mailboxes."""
    from webadmin.models import ExternalSource

    fresh_connection()
    return list(ExternalSource.objects.filter(active=True, mailbox__active=True).values_list("pk", flat=True))


def source_ids() -> set[int]:
    """Ids of every source that exists (to drop the poll state of deleted ones)."""
    from webadmin.models import ExternalSource

    fresh_connection()
    return set(ExternalSource.objects.values_list("pk", flat=True))
