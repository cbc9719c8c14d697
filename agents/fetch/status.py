"""What a user sees about their external sources (webmail settings): state of the last poll, per source."""

from __future__ import annotations

import datetime
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceStatus:
    label: str  # login@host (POP3/IMAP)
    active: bool
    last_success: datetime.datetime | None
    last_error: str
    last_error_at: datetime.datetime | None
    next_attempt: datetime.datetime | None


def sources_of(mailbox_id: int) -> list[SourceStatus]:
    """The mailbox's sources with their poll state (never the password)."""
    from agents.config import fetch as fetch_config
    from agents.models import FetchState

    sources = fetch_config.sources_of(mailbox_id)
    states = {s.source_id: s for s in FetchState.objects.filter(source_id__in=[s.id for s in sources])}
    out = []
    for source in sources:
        state = states.get(source.id)
        out.append(SourceStatus(
            label=f"{source.login}@{source.host} ({source.protocol_label})", active=source.active,
            last_success=state.last_success if state else None, last_error=state.last_error if state else "",
            last_error_at=state.last_error_at if state else None, next_attempt=state.next_attempt if state else None,
        ))
    return out
