"""The learned junk filter's two ends: learning from users' Junk moves, and judging at delivery.

Learning (Celery beat runs :func:`learn_pending` every minute, ``agents.tasks.learn_junk``):
each unused :class:`agents.models.SpamTraining` row names a mailbox, a verdict and
a Message-ID. The message is found through the store (a spam verdict in Junk, a
ham verdict in any folder but Junk and Trash), tokenised once, and learned into the
user's model and the global one; then the row is marked used. A message that is
gone is skipped. Learning twice counts once, and a message moved back out of Junk
is unlearned as spam before it is learned as ham (``junkmodel.learn``).

What the user keeps is ham too: after learning a mailbox's moves, up to
:data:`KEEP_PER_PASS` of the newest INBOX messages that were read and left there
for :data:`KEEP_AFTER` are learned as ham, if they were never learned. Junking one
of them later turns it into spam.

Judging (:func:`assessment`, called by ``verdict.judge`` at local delivery): the
user's model and the global one give their counts for the message's tokens, and
:func:`agents.mailauth.junkmodel.assess` turns them into points. Never raises.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict

from agents.store import MailboxStore, Store, StoreError, default_store
from agents.store.sidecar import Sidecar

from . import bayes, junkmodel

log = logging.getLogger(__name__)

KEEP_AFTER = datetime.timedelta(days=1)
KEEP_PER_PASS = 20
KEEP_LOOK = 100  # newest INBOX messages looked at per pass
NOT_HAM_FOLDERS = ("Junk", "Trash")


def user_model(box: MailboxStore) -> Sidecar:
    return box.sidecar(junkmodel.NAME, junkmodel.SCHEMA)


def global_model(store: Store) -> Sidecar:
    return store.sidecar(junkmodel.NAME, junkmodel.SCHEMA)


def find(box: MailboxStore, message_id: str, verdict: str) -> bytes | None:
    """The raw message with ``message_id`` where a move with ``verdict`` left it, or None."""
    if not message_id:
        return None
    names = ["Junk"] if verdict == junkmodel.SPAM else \
        ["INBOX"] + [f.name for f in box.list_folders() if f.name not in ("INBOX", *NOT_HAM_FOLDERS)]
    for name in names:
        try:
            folder = box.folder(name)
            uids = folder.search_header("message-id", message_id)
            for summary in folder.summaries(uids[-20:]):
                if summary.message_id == message_id:
                    return folder.read(summary.uid)
        except StoreError:
            continue
    return None


def learn_message(store: Store, box: MailboxStore, raw: bytes, verdict: str, message_id: str) -> str:
    """Learn one message into the user's model and the global one; returns the user model's answer."""
    tokens = bayes.tokenize(raw)
    answer = junkmodel.learn(user_model(box), tokens, verdict, message_id)
    if answer != "known":
        junkmodel.learn(global_model(store), tokens, verdict, f"{box.address.lower()} {message_id}",
                        contributor=box.address)
    return answer


def keep_ham(store: Store, box: MailboxStore, now: datetime.datetime) -> int:
    """Learn as ham the read INBOX messages kept at least KEEP_AFTER; returns how many."""
    model = user_model(box)
    learned = 0
    inbox = box.folder("INBOX")
    for summary in inbox.page(0, KEEP_LOOK):
        if learned >= KEEP_PER_PASS:
            break
        meta = summary.meta
        if (not summary.message_id or "\\Seen" not in meta.flags or meta.internaldate > now - KEEP_AFTER
                or junkmodel.learned_as(model, summary.message_id) is not None):
            continue
        try:
            raw = inbox.read(summary.uid)
        except StoreError:
            continue
        if learn_message(store, box, raw, junkmodel.HAM, summary.message_id) != "known":
            learned += 1
    return learned


def learn_pending(limit: int = 500, *, store: Store | None = None, now: datetime.datetime | None = None) -> int:
    """Learn from up to ``limit`` unused training rows, oldest first; returns how many rows were used.

    A row is marked used after its message is learned (or found gone), so a crash
    repeats work that counts once anyway.
    """
    from agents import config
    from agents.models import SpamTraining

    store = store or default_store()
    now = now or datetime.datetime.now(datetime.UTC)
    rows = list(SpamTraining.objects.filter(used=False).order_by("pk")[:limit])
    by_mailbox: dict[str, list] = defaultdict(list)
    for row in rows:
        by_mailbox[row.mailbox.lower()].append(row)
    for address, mine in by_mailbox.items():
        try:
            if config.get_mailbox(address) is not None:
                box = store.mailbox(address)
                for row in mine:
                    raw = find(box, row.message_id, row.verdict)
                    if raw is not None:
                        learn_message(store, box, raw, row.verdict, row.message_id)
                keep_ham(store, box, now)
        except Exception:  # one mailbox's trouble must not stop the others' learning
            log.exception("junk filter learning failed for %s", address)  # its rows are used all the same
        SpamTraining.objects.filter(pk__in=[r.pk for r in mine]).update(used=True)
    return sum(len(v) for v in by_mailbox.values())


def assessment(box: MailboxStore, raw: bytes, authenticated: bool) -> junkmodel.Assessment | None:
    """The learned filter's opinion of ``raw`` for ``box``'s user, or None when no model can speak."""
    user, shared = user_model(box), global_model(box.store)
    if not user.exists() and not shared.exists():
        return None
    tokens = bayes.tokenize(raw)
    result = junkmodel.assess(tokens, junkmodel.lookup(user, tokens),
                              junkmodel.lookup(shared, tokens, junkmodel.global_ready), authenticated)
    return None if result.model == "none" and not result.sender and not result.domain else result
