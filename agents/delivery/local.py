"""Local delivery (the MDA): aliases → filters → quota → the store.

Each mailbox copy is stored with ``delivery_key = f"{queue_id}:{mailbox}"``, so a
retried run (or a recipient reached twice through aliases) stores it once.
Forwards, redirects and auto-replies become new queue messages with queue ids
derived from this one, so a retried run never sends them twice.

A delivery run plans its mailbox copies into a :class:`StoreBatch` and commits
them at the end, one group commit per mailbox (``MailboxStore.deliver_many``):
a recipient's outcome is known only then (:class:`Pending`).
"""

from __future__ import annotations

import collections
import datetime
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from agents import config
from agents.cluster import MOVING, cluster_mode, is_home, this_node, usage
from agents.queue import Envelope, derived_queue_id, submission, submit
from agents.store import commits
from agents.store.errors import DeliveryHeld
from mailcore import sieve as sieve_check
from mailcore import sieve_rules, vacation
from mailcore.headersafe import is_unsafe
from mailcore.quota import shortfall

from . import autoreply, filters, outcome, sieve
from .message import ParsedMessage, delivered_to, parse
from .outcome import Outcome

log = logging.getLogger(__name__)


def _close_thread_connections() -> None:
    """A commit thread's database connections (Django keeps one per thread: the move guard opens it in
    cluster mode) are closed once the thread idles, instead of living as long as the worker."""
    connections.close_all()


commits.when_idle(_close_thread_connections)


class Context:
    """The message being delivered, read once per run.

    ``parsed`` (the header block through the email package) is made on first use: only Sieve
    scripts and auto-replies read it, and for a mailbox without a script it was a tenth of a
    delivery's CPU."""

    def __init__(self, queue_id: str, raw: bytes, sender: str, parsed: ParsedMessage | None,
                 now: datetime.datetime) -> None:
        self.queue_id, self.raw, self.sender, self.now = queue_id, raw, sender, now
        self._parsed = parsed

    @property
    def parsed(self) -> ParsedMessage:
        if self._parsed is None:
            self._parsed = parse(self.raw)
        return self._parsed


def _eol(raw: bytes) -> bytes:
    first = raw.find(b"\n")
    return b"\r\n" if first > 0 and raw[first - 1 : first] == b"\r" else b"\n"


def prepend(raw: bytes, *headers: str) -> bytes:
    """``raw`` with header lines put on top, in the message's own line ending."""
    eol = _eol(raw)
    return b"".join(h.encode("utf-8", "replace") + eol for h in headers) + raw


def _store():
    from agents.store import default_store

    return default_store()


BOX_REUSE = 10.0  # seconds an opened mailbox serves later runs of this process
BOX_KEEP = 256  # opened mailboxes kept per process
_boxes: collections.OrderedDict[tuple[str, str], tuple[float, Any]] = collections.OrderedDict()
_boxes_lock = threading.Lock()


def _open_box(mailbox: str) -> Any:
    """The mailbox's store, opened at most every ``BOX_REUSE`` seconds per process.

    Opening checks the Maildir and its special folders (about 15 stats and a query:
    with 100 mailboxes round-robin, a batch opened 50 of them, a tenth of its CPU). A
    kept one is as good if its index file is still the one it opened (a retired or
    restored mailbox is opened afresh); a folder removed meanwhile is made again by the
    delivery that needs it.
    """
    store = _store()
    key = (str(store.root), mailbox)
    now = time.monotonic()
    with _boxes_lock:
        kept = _boxes.get(key)
        if kept is not None and now - kept[0] < BOX_REUSE:
            _boxes.move_to_end(key)
    if kept is not None and now - kept[0] < BOX_REUSE and kept[1].still_current():
        return kept[1]
    box = store.mailbox(mailbox)
    with _boxes_lock:
        _boxes[key] = (now, box)
        _boxes.move_to_end(key)
        while len(_boxes) > BOX_KEEP:
            _boxes.popitem(last=False)
    return box


@dataclass
class StoreWrite:
    """One mailbox copy waiting for its batch's group commit; ``outcome`` is set by the commit."""

    mailbox: str
    raw: bytes
    key: str
    folder: str
    flags: tuple[str, ...]
    outcome: Outcome | None = None


@dataclass
class StoreBatch:
    """The mailbox copies of one delivery run, stored by :meth:`commit` with one group commit per mailbox."""

    writes: list[StoreWrite] = field(default_factory=list)
    boxes: dict[str, Any] = field(default_factory=dict)  # address -> MailboxStore, opened once per run
    planned: collections.Counter[str] = field(default_factory=collections.Counter)  # bytes per mailbox, for quota

    def box(self, mailbox: str) -> Any:
        if mailbox not in self.boxes:
            self.boxes[mailbox] = _open_box(mailbox)
        return self.boxes[mailbox]

    def add(self, write: StoreWrite) -> StoreWrite:
        self.writes.append(write)
        self.planned[write.mailbox] += len(write.raw)
        return write

    def commit(self) -> None:
        """Store every planned copy; each gets a delivered outcome, or deferred if its mailbox failed."""
        by_box: dict[str, list[StoreWrite]] = collections.defaultdict(list)
        for write in self.writes:
            by_box[write.mailbox].append(write)
        self.writes, self.planned = [], collections.Counter()
        if by_box and cluster_mode():
            _hold_moving(by_box)
        # Every mailbox's group commit at once, each on its own thread (agents.store.commits): their
        # fsyncs share journal commits instead of waiting one after another.
        jobs = [(mailbox, functools.partial(_commit_mailbox, self.box(mailbox), writes,
                                            _move_guard(mailbox) if cluster_mode() else None))
                for mailbox, writes in by_box.items()]
        for (mailbox, writes), failed in zip(by_box.items(), commits.per_mailbox(jobs), strict=True):
            if isinstance(failed, DeliveryHeld):  # frozen for a move meanwhile: wait for its new home
                for write in writes:
                    write.outcome = outcome.deferred("4.2.1", f"<{mailbox}> {MOVING}: {failed}")
            elif isinstance(failed, Exception):  # a store hiccup: retry later, never lose the mail
                log.error("local delivery to %s failed", mailbox, exc_info=failed)
                for write in writes:
                    write.outcome = outcome.deferred(
                        "4.3.0", f"local delivery failed: {failed.__class__.__name__}: {failed}")
        if by_box and cluster_mode():  # other nodes read quota usage from the database, not our disk
            try:
                usage.record({mailbox: int(self.box(mailbox).usage()) for mailbox in by_box})
            except Exception:  # a figure for the dashboard and RCPT checks; the mail is stored already
                log.exception("could not record the usage of %d mailbox(es)", len(by_box))


def _hold_moving(by_box: dict[str, list[StoreWrite]]) -> None:
    """Cluster mode: copies for a mailbox that is frozen for a move, or whose home moved away since
    this node's configuration cache last looked, are not stored here: they wait (deferred, retried
    every few seconds and released when the move switches) and then go to the mailbox's home.
    Read fresh: two queries per batch."""
    from agents.cluster.move import frozen_mailboxes

    boxes = list(by_box)
    homes = config.home_nodes_fresh(boxes)
    frozen = frozen_mailboxes(boxes)
    moved = {box for box in boxes if homes.get(box, this_node()) != this_node()}
    if moved:
        config.invalidate()  # the next run plans with the new home
    for mailbox in frozen | moved:
        for write in by_box.pop(mailbox):
            write.outcome = outcome.deferred("4.2.1", f"<{mailbox}> {MOVING}; delivery resumes at its new home")


def _move_guard(mailbox: str) -> Callable[[], str]:
    """Asked inside the store's index transaction (cluster mode): is the mailbox frozen for a move,
    or homed elsewhere, now? A mailbox move's last copy takes that index lock, so a batch either
    is in the copy or was held."""

    def guard() -> str:
        from agents.cluster.move import frozen_mailboxes

        if frozen_mailboxes([mailbox]):
            return "frozen for a move"
        home = config.home_nodes_fresh([mailbox]).get(mailbox, this_node())
        return "" if home == this_node() else f"homed on node {home} now"

    return guard


def _commit_mailbox(box: Any, writes: list[StoreWrite], guard: Callable[[], str] | None = None) -> None:
    results = box.deliver_many([(w.raw, w.key, w.folder, w.flags) for w in writes], guard=guard)
    refused = [(w, r) for w, r in zip(writes, results, strict=True) if isinstance(r, ValueError)]
    if refused:  # InvalidFolderName: a bad rule must not lose mail
        for write, exc in refused:
            log.warning("filter folder %r for %s refused (%s); delivering to INBOX", write.folder, write.mailbox, exc)
        again = box.deliver_many([(w.raw, w.key, "INBOX", w.flags) for w, _ in refused], guard=guard)
        fallback = {id(w): r for (w, _), r in zip(refused, again, strict=True)}
        results = [fallback.get(id(w), r) for w, r in zip(writes, results, strict=True)]
    for write, result in zip(writes, results, strict=True):
        if isinstance(result, Exception):
            write.outcome = outcome.deferred("4.3.0", f"local delivery failed: {result.__class__.__name__}: {result}")
        else:
            write.outcome = outcome.delivered(f"<{write.mailbox}> {result[0]} uid {result[1]}")


@dataclass
class Pending:
    """A recipient's deliveries, some waiting for the batch's store commit; :meth:`resolve` after it."""

    parts: list[Outcome | StoreWrite]

    def resolve(self) -> Outcome:
        return combine([_settled(p) for p in self.parts])


def _settled(part: Outcome | StoreWrite) -> Outcome:
    if isinstance(part, Outcome):
        return part
    return part.outcome or outcome.deferred("4.3.0", f"<{part.mailbox}>: not stored (no commit ran)")


def deliver_recipient(ctx: Context, recipient: str, batch: StoreBatch) -> Outcome | Pending:
    """Deliver to a local address: every mailbox and forward it expands to; mailbox copies go into ``batch``."""
    expansion = config.expand(recipient)
    if not expansion.mailboxes and not expansion.external:
        if expansion.loop:
            return outcome.bounced("5.4.6", f"alias loop or too deep an alias chain at <{recipient}>")
        if expansion.discarded:
            return outcome.discarded(f"discarded by alias <{recipient}>")
        return outcome.bounced("5.1.1", f"<{recipient}>: Recipient address rejected: User unknown")
    parts = [plan_mailbox(ctx, mailbox, batch) for mailbox in expansion.mailboxes]
    if expansion.external:
        parts.append(forward(ctx, recipient, expansion.external, purpose=f"forward:{recipient.lower()}"))
    return Pending(parts)


def combine(results: list[Outcome]) -> Outcome:
    """One outcome for an address that expanded to several deliveries.

    Any deferral defers it all (the stored copies are idempotent, so the retry
    stores nothing twice); otherwise one delivery makes it delivered; otherwise
    the first bounce or discard stands.
    """
    for state in (outcome.DEFERRED, outcome.DELIVERED, outcome.BOUNCED):
        matching = [r for r in results if r.state == state]
        if state == outcome.DELIVERED and len(matching) > 1:
            return outcome.delivered(", ".join(r.detail for r in matching), event=matching[0].event)
        if matching:
            return matching[0]
    return results[0] if results else outcome.discarded("nothing to deliver")


def forward(ctx: Context, via: str, targets: list[str], *, purpose: str) -> Outcome:
    """Queue a copy for ``targets`` (alias forward, filter redirect) as a new message."""
    raw = prepend(ctx.raw, f"Delivered-To: {via}")
    refused = submission.default_policy().system("forward", via, ctx.sender, targets, len(raw))
    if refused is not None:  # the one submission policy (too big, or a suspended account's redirect)
        return outcome.bounced(refused.reply[4:9].strip() or "5.0.0", refused.reply)
    queue_id = derived_queue_id(ctx.queue_id, purpose)
    sender = ctx.sender
    if any(not config.is_local_domain(t.rpartition("@")[2]) for t in targets):
        sender = config.srs_forward(ctx.sender, via)  # SPF at the next hop checks our domain, not the sender's
        if settings.MAILAPP_ARC_SEAL:  # and ARC tells it what we saw when the mail reached us
            from agents.mailauth import arc

            domain = config.canonical_domain(via.rpartition("@")[2]) or via.rpartition("@")[2]
            raw = arc.seal(raw, domain, settings.MAILAPP_HOSTNAME)
    submit(raw, Envelope(sender=sender, recipients=list(targets), source="forward", parent=ctx.queue_id),
           queue_id=queue_id)
    return outcome.delivered(f"forwarded to {', '.join(targets)} as {queue_id}", event="forwarded")


def route_home(ctx: Context, mailbox: str, node: str) -> Outcome:
    """Cluster mode: queue a copy for ``mailbox`` that only its home node delivers (its own Celery
    queue, ``deliver.<node>``); filters, quota and the store run there. The copy is the message
    as received (no header added, so the home node's loop check sees what we saw); its queue id is
    derived from this one, so a retried run queues it once."""
    queue_id = submit(ctx.raw, Envelope(sender=ctx.sender, recipients=[mailbox], source="route",
                                        parent=ctx.queue_id, node=node),
                      queue_id=derived_queue_id(ctx.queue_id, f"home:{mailbox.lower()}"))
    return outcome.delivered(f"<{mailbox}> handed to its home node {node} as {queue_id}", event="routed")


def deliver_mailbox(ctx: Context, mailbox: str) -> Outcome:
    """Filters, quota and the store for one local mailbox, stored at once (a batch of one)."""
    batch = StoreBatch()
    planned = plan_mailbox(ctx, mailbox, batch)
    batch.commit()
    return _settled(planned)


def plan_mailbox(ctx: Context, mailbox: str, batch: StoreBatch) -> Outcome | StoreWrite:
    """Filters and quota for one local mailbox; the copy to store goes into ``batch``."""
    if mailbox.lower() in delivered_to(ctx.raw):
        return outcome.bounced("5.4.6", f"mail forwarding loop for <{mailbox}>")
    info = config.get_mailbox(mailbox)
    if info is None or not info.active:
        return outcome.bounced("5.1.1", f"<{mailbox}>: mailbox unavailable")
    if not is_home(info.home_node):
        return route_home(ctx, info.address, info.home_node)
    verdict = _verdict(ctx, mailbox, batch)
    if isinstance(verdict, sieve.SieveVerdict) and verdict.reject:
        return outcome.bounced("5.7.1", f"<{mailbox}>: rejected by the recipient's filter: {verdict.reject[:200]}")
    for index, target in enumerate(verdict.redirects):
        forward(ctx, mailbox, [target], purpose=f"redirect:{mailbox}:{index}:{target.lower()}")
    for action in verdict.autoreplies:
        send_autoreply(ctx, mailbox, action)
    if not verdict.store:
        if verdict.redirects:
            return outcome.delivered(f"redirected by filter to {', '.join(verdict.redirects)}", event="forwarded")
        return outcome.discarded(f"discarded by filter for <{mailbox}>")
    box = batch.box(mailbox)
    used = box.usage() + batch.planned[mailbox] if info.quota else 0  # earlier copies of this run count too
    short = shortfall(used, info.quota, len(ctx.raw)) if info.quota else None
    if short is not None:
        return outcome.deferred("4.2.2", f"<{mailbox}>: {short.reason}")
    from agents.mailauth.verdict import judge  # the MX door's verdict and the user's learned filter: Junk?

    judged = judge(ctx.raw, mailbox, box)
    raw = ctx.raw
    if isinstance(verdict, sieve.SieveVerdict) and (verdict.added_headers or verdict.deleted_headers):
        raw = edit_headers(raw, verdict.added_headers, verdict.deleted_headers)
    raw = prepend(raw, f"Return-Path: <{ctx.sender}>", f"Delivered-To: {mailbox}", *judged.headers)
    key = f"{ctx.queue_id}:{mailbox}"
    target = "Junk" if verdict.folder.upper() == "INBOX" and judged.junk else verdict.folder
    return batch.add(StoreWrite(mailbox, raw, key, target, tuple(sorted(verdict.flags))))


def _verdict(ctx: Context, mailbox: str, batch: StoreBatch) -> filters.Verdict:
    """The mailbox's active Sieve script decides (the rule builder's rules are a script too); none: keep."""
    scripts = config.sieve_scripts_for(mailbox)
    text = scripts.active_text
    if text is None:
        return filters.Verdict()
    try:
        script = _parsed(text)
    except sieve_check.SieveError as exc:  # stored before a rule change: keep the mail (RFC 5228 2.10.6)
        log.warning("sieve script %r of %s does not parse (%s); keeping the message", scripts.active, mailbox, exc)
        return filters.Verdict()

    def folder_exists(name: str) -> bool:
        return any(f.name == name for f in batch.box(mailbox).list_folders())

    envelope = sieve.Envelope(ctx.sender, mailbox, timezone.localtime(ctx.now))
    return sieve.run(script, ctx.parsed, ctx.raw, envelope, includes=scripts.scripts.get,
                     folder_exists=folder_exists, any_recipient=sieve_rules.is_generated(text))


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> sieve_check.Script:
    """A script parsed once per text (the tree is only read by the interpreter)."""
    return sieve_check.parse(text)


_UNTOUCHABLE = {"received", "return-path", "delivered-to", "auto-submitted"}  # RFC 5293 section 4.4 / 6


def edit_headers(raw: bytes, added: list[tuple[str, str]], deleted: list[str]) -> bytes:
    """``raw`` with the editheader (RFC 5293) changes: deleted fields gone, added ones on top."""
    gone = {name.lower() for name in deleted} - _UNTOUCHABLE
    end = raw.find(b"\r\n\r\n")
    end = end if end >= 0 else raw.find(b"\n\n")
    head, body = (raw[:end], raw[end:]) if end >= 0 else (raw, b"")
    kept: list[bytes] = []
    dropping = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().decode("ascii", "replace").lower()
        dropping = name in gone
        if not dropping:
            kept.append(line)
    lines = [f"{name}: {value}" for name, value in added
             if name.lower() not in _UNTOUCHABLE and not is_unsafe(name + value) and ":" not in name]
    return prepend(b"".join(kept) + body, *lines)


def send_autoreply(ctx: Context, mailbox: str, action: dict) -> bool:
    """Queue the auto-reply of ``action`` to the envelope sender if RFC 3834 allows it."""
    if not vacation.in_window(action, timezone.localtime(ctx.now).date()):
        log.info("no auto-reply from %s to <%s>: outside its days (%s to %s)", mailbox, ctx.sender,
                 action.get("start") or "…", action.get("end") or "…")
        return False
    allowed, reason = autoreply.reply_allowed(ctx.sender, ctx.parsed)
    if not allowed:
        log.info("no auto-reply from %s to <%s>: %s", mailbox, ctx.sender, reason)
        return False
    days = action.get("days") or settings.MAILAPP_AUTOREPLY_DAYS
    days = days if isinstance(days, int) and days > 0 else settings.MAILAPP_AUTOREPLY_DAYS
    queue_id = derived_queue_id(ctx.queue_id, f"autoreply:{mailbox}")
    from agents.models import QueueMessage

    with transaction.atomic():
        if QueueMessage.objects.filter(queue_id=queue_id).exists():
            return True  # made by an earlier run of this delivery
        if autoreply.recently_replied(mailbox, ctx.sender, days, ctx.now):
            return False
        raw = autoreply.build_reply(mailbox=str(action.get("from") or mailbox), sender=ctx.sender,
                                    message=ctx.parsed,
                                    subject=str(action.get("subject") or ""), body=str(action.get("body") or ""),
                                    hostname=settings.MAILAPP_HOSTNAME, now=ctx.now)
        if submission.default_policy().system("autoreply", mailbox, "", [ctx.sender], len(raw)) is not None:
            return False
        submit(raw, Envelope(sender="", recipients=[ctx.sender], source="autoreply", parent=ctx.queue_id),
               queue_id=queue_id)
        autoreply.remember(mailbox, ctx.sender, ctx.now)
    return True
