"""Who hears that a mailbox's size went down or up outside a delivery (IMAP, POP3, webmail writes).

The store knows no database; the engine's start-up may hand it a listener (``agents.store.configure``),
which in cluster mode keeps the quota cache (``MailboxUsage``) that other nodes read. Called after
the index commit, with the mailbox's directory and a function returning the bytes it holds now
(one index query, paid only by a listener that wants it: on one machine nobody does); a listener
must be cheap and must not raise (it runs in the writer's thread, often a protocol session's)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from .index import Index

log = logging.getLogger(__name__)

UsageListener = Callable[[Path, Callable[[], int]], None]
_listener: UsageListener | None = None


def listen(listener: UsageListener | None) -> None:
    global _listener
    _listener = listener


def size_changed(mailbox_path: Path, index: Index) -> None:
    """A write committed that changed what ``mailbox_path`` holds: tell the listener, if any."""
    if _listener is None:
        return
    def used() -> int:
        return int(index.conn.execute("SELECT total(bytes) FROM folders").fetchone()[0])

    try:
        _listener(mailbox_path, used)
    except Exception:  # a figure for other nodes' quota checks; the write itself is done
        log.exception("could not report the usage of %s", mailbox_path)
