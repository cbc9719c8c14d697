"""Training hooks: a user moving a message into Junk (spam) or out of it (ham) is recorded.

Called by IMAP MOVE/COPY and the webmail's move with the folder names and the
raw messages (or their Message-IDs); a learner (rspamd's ``learn_spam``/``learn_ham``,
a Bayes job) reads unused :class:`agents.models.SpamTraining` rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

JUNK = "junk"


def verdict_for_move(source: str, destination: str) -> str | None:
    """"spam" for a move into Junk, "ham" for one out of Junk (not to Trash), else None."""
    src, dst = source.strip().lower(), destination.strip().lower()
    if dst == JUNK and src != JUNK:
        return "spam"
    if src == JUNK and dst not in (JUNK, "trash"):
        return "ham"
    return None


def record_move(mailbox: str, source: str, destination: str, message_ids: Iterable[str], via: str = "") -> int:
    """Record a training row per message for a Junk move; returns how many. Never raises."""
    verdict = verdict_for_move(source, destination)
    if verdict is None:
        return 0
    try:
        from agents.models import SpamTraining

        rows = [SpamTraining(mailbox=mailbox.lower()[:320], verdict=verdict, message_id=(mid or "")[:998],
                             source=via[:16]) for mid in message_ids]
        SpamTraining.objects.bulk_create(rows)
        return len(rows)
    except Exception:  # training is a nicety; a move must never fail for it
        log.exception("could not record spam training for %s", mailbox)
        return 0


def record_store_move(address: str, source, uids: list[int], destination: str, via: str = "") -> int:
    """:func:`record_move` for a store move about to happen: reads the Message-IDs from the index
    of ``source`` (an ``agents.store`` Folder) only when the move touches Junk. Never raises."""
    if verdict_for_move(source.name, destination) is None:
        return 0
    try:
        ids = [s.message_id or "" for s in source.summaries(uids)]
    except Exception:
        ids = ["" for _ in uids]
    return record_move(address, source.name, destination, ids, via)
