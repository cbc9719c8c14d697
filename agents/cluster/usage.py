"""Mailbox usage (bytes, for quota) without opening another node's store.

The home node counts from its store (the index keeps the sum) and, in cluster mode, writes the
figure to ``MailboxUsage`` after each delivery commit. Every other node reads that row: the
SMTP agent's quota check at RCPT, the API and the dashboard. Writes by the other doors (IMAP
EXPUNGE, COPY and APPEND, POP3 DELE, webmail deletes, a folder deleted) renew it too: the store
tells :func:`store_changed` after its commit. The home node's own check at delivery reads the
store, so a figure a moment stale never stores mail past the quota.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.utils import timezone

from agents.models import MailboxUsage

from . import cluster_mode, is_home, this_node

log = logging.getLogger(__name__)
_writer: ThreadPoolExecutor | None = None  # for writes asked from an event loop's thread


def of(address: str, opened: dict[str, Any] | None = None) -> int:
    """Bytes in ``address``'s mailbox: from the store on its home node (and on one machine), else
    the home node's last figure (0 if it never reported one). Never creates a Maildir: a mailbox
    that has none yet holds 0 bytes. ``opened``: mailbox stores the caller keeps open between
    calls (address → ``MailboxStore``), used and filled here: opening one costs far more than
    the index's one read of its sum."""
    from agents import config

    info = config.get_mailbox(address)
    home = info.home_node if info is not None else ""
    if is_home(home):
        from agents.store import default_store

        mailbox = opened.get(address) if opened is not None else None
        if mailbox is None:
            store = default_store()
            if not store.path_for(address).is_dir():
                return 0
            mailbox = store.mailbox(address)
            if opened is not None:
                opened[address] = mailbox
        return int(mailbox.usage())
    canonical = info.address if info is not None else address.lower()
    found = MailboxUsage.objects.filter(address=canonical).values_list("bytes", flat=True).first()
    return int(found or 0)


def record(counts: dict[str, int]) -> None:
    """The home node's figures (address → bytes) after a delivery commit; cluster mode only."""
    if not cluster_mode() or not counts:
        return
    now, node = timezone.now(), this_node()
    for address, used in counts.items():
        MailboxUsage.objects.update_or_create(address=address.lower(), defaults={"bytes": used, "node": node,
                                                                                 "updated": now})


def store_changed(mailbox_path: Path, size: Callable[[], int]) -> None:
    """The store's listener (``agents.store.configure``): a mailbox of this node changed size
    outside a delivery. Cluster mode only; from an event loop's thread (a protocol agent's loop)
    the database write goes to a thread of its own, so the loop never waits on the database."""
    if not cluster_mode():
        return
    used = size()
    address = f"{mailbox_path.name}@{mailbox_path.parent.name}"
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        record({address: used})
        return
    global _writer
    if _writer is None:
        _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage")
    _writer.submit(_record_logged, address, used)


def _record_logged(address: str, used: int) -> None:
    try:
        record({address: used})
    except Exception:
        log.exception("could not record the usage of %s", address)
