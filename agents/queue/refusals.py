"""Refusals as data: every refused MAIL, RCPT or DATA, and every refused submission.

Each refusal is one log line in Postfix's shape::

    NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 550 5.1.1 <x@example.com>: Recipient address
    rejected: User unknown; from=<a@remote.test> to=<x@example.com> proto=ESMTP helo=<mx.remote.test>
    rule=unknown-recipient

and one ``agents.models.Refusal`` row, which the dashboard's trace finds beside
accepted mail. The SMTP agent must not turn every bad command into a database
write on its event loop, so :class:`RefusalLog` buffers rows in memory and the
agent flushes them from a thread every :data:`FLUSH_SECONDS`; entry points that
already run synchronously (webmail, sendmail) write their one row at once with
:func:`record`. Rows older than ``MAILAPP_REFUSAL_RETENTION_DAYS`` are removed
by :func:`expire` (Celery beat).
"""

from __future__ import annotations

import datetime
import logging
import threading
from dataclasses import dataclass, field

from django.utils import timezone

log = logging.getLogger("agents.refusals")

FLUSH_SECONDS = 0.5  # the trace shows a refusal within 2 s (docs/smtp.md)
MAX_BUFFER = 10000  # rows kept when the database is unreachable; older ones are dropped (the log has them)
SMTP_SOURCES = ("smtp", "submission", "smtps")


@dataclass(frozen=True)
class Refusal:
    """Who was refused what, and why (``rule`` names the deciding rule, e.g. ``unknown-recipient``)."""

    source: str  # the listener ("smtp", "submission", "smtps") or the entry point ("webmail", "sendmail", …)
    command: str  # MAIL, RCPT, DATA, or SUBMIT for a whole-message entry point
    reply: str
    rule: str
    sender: str = ""
    recipient: str = ""
    client_address: str = ""
    client_name: str = ""
    tls: str = ""
    auth_user: str = ""
    when: datetime.datetime = field(default_factory=timezone.now)


def log_line(refusal: Refusal) -> str:
    """The refusal in Postfix's ``NOQUEUE: reject:`` shape (the host name is "unknown": we do no
    reverse lookups), with the deciding rule at the end."""
    proto = "ESMTP" if refusal.source in SMTP_SOURCES else refusal.source
    host = "unknown" if refusal.source in SMTP_SOURCES else refusal.source
    reply = " ".join(refusal.reply.split())
    line = (f"NOQUEUE: reject: {refusal.command} from {host}[{refusal.client_address}]: {reply}; "
            f"from=<{refusal.sender}>")
    if refusal.recipient:
        line += f" to=<{refusal.recipient}>"
    line += f" proto={proto} helo=<{refusal.client_name}>"
    if refusal.auth_user:
        line += f" sasl_username={refusal.auth_user}"
    return line + f" rule={refusal.rule}"


def _row(refusal: Refusal):
    from agents.models import Refusal as RefusalRow

    return RefusalRow(
        when=refusal.when,
        source=refusal.source[:16],
        client_address=refusal.client_address[:64],
        client_name=refusal.client_name[:255],
        tls=refusal.tls[:64],
        auth_user=refusal.auth_user[:320],
        sender=refusal.sender[:512],
        recipient=refusal.recipient[:512],
        command=refusal.command[:8],
        reply=refusal.reply[:2000],
        rule=refusal.rule[:40],
    )


def record(refusal: Refusal) -> None:
    """Log and store one refusal now (synchronous callers: webmail, sendmail, delivery). Never raises."""
    log.info(log_line(refusal))
    try:
        _row(refusal).save()
    except Exception:
        log.exception("could not store a refusal")


class RefusalLog:
    """Refusals logged at once and stored in batches by :meth:`flush` (from a thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Refusal] = []

    def add(self, refusal: Refusal) -> None:
        log.info(log_line(refusal))
        with self._lock:
            if len(self._pending) >= MAX_BUFFER:
                del self._pending[: len(self._pending) // 2]
            self._pending.append(refusal)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> int:
        """Store what was added (one INSERT); returns how many. Sync ORM: call from a thread."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return 0
        from agents.models import Refusal as RefusalRow

        try:
            RefusalRow.objects.bulk_create([_row(r) for r in batch])
        except Exception:
            log.exception("could not store %d refusals; keeping them for the next flush", len(batch))
            with self._lock:
                self._pending[:0] = batch[-MAX_BUFFER:]
            return 0
        return len(batch)


def expire(now: datetime.datetime | None = None, days: int | None = None) -> int:
    """Delete refusals older than the retention period; returns how many."""
    from django.conf import settings

    from agents.models import Refusal as RefusalRow

    days = settings.MAILAPP_REFUSAL_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    return RefusalRow.objects.filter(when__lt=cutoff).delete()[0]
