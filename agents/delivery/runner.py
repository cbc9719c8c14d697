"""One delivery run of one queued message: claim, deliver every pending recipient, record.

Local recipients go to ``local`` (the MDA), remote ones are grouped by domain and
go to ``remote`` (one SMTP session per domain). Outcomes, events, counters, the
bounce DSN and the next retry are committed in one transaction; the spool file
is removed only once every recipient is final. Every step is idempotent per
(queue id, recipient), so running the same message again after a crash never
loses or duplicates a delivery (the one exception is the SMTP window between a
remote host's "250" and our commit; such recipients are marked ``in_doubt`` and
resent, which RFC 1047 accepts over losing mail).
"""

from __future__ import annotations

import collections
import datetime
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agents import config
from agents.cluster import MOVE_RETRY, MOVING
from agents.models import QueueEvent, QueueMessage, QueueRecipient
from agents.queue import Envelope, derived_queue_id, spool, submit
from agents.queue.counters import count
from agents.queue.rows import Insert

from . import backoff, local, outcome, remote
from .claim import Lease, claim_batch, free, release, release_all
from .dsn import RecipientStatus, build_dsn
from .message import count_received
from .outcome import Outcome

log = logging.getLogger(__name__)

COUNTED = {"delivered": "delivered", "forwarded": "delivered", "relayed": "relayed", "deferred": "deferred",
           "bounced": "bounced"}
SWEEP_GRACE = datetime.timedelta(seconds=60)  # a fresh message's own task gets this long before the sweeper helps


_EVENTS = Insert(QueueEvent, ["message_id", "recipient", "event", "detail"])  # "when": the record's time
MAX_ROUNDS = 100  # batches one run drains at most (a bound; the sweeper and the next task take the rest)
IDLE_POLL = 0.05  # seconds between looks for due messages while a run lingers
GATHER = 0.1  # seconds a lingering run waits after a batch that was not full, for the next one to fill up


def run(queue_id: str, batch: int | None = None) -> str:
    """Deliver what is pending for ``queue_id``; return a one-line summary (for logs and tests).

    The run also drains other due messages, ``batch`` at a time (default
    ``MAILAPP_DELIVERY_BATCH``); see :func:`run_batch`.
    """
    return run_batch(queue_id, batch).get(queue_id, "skipped")


def run_batch(queue_id: str | None, batch: int | None = None, linger: float = 0.0) -> dict[str, str]:
    """Deliver ``queue_id`` and whatever else is due, in batches; return a summary per queue id.

    Each batch is one claim (``queue_id`` first, if it is free, then other due
    messages, oldest due first), one group commit per mailbox for the local
    copies, and one transaction recording the outcomes. Another batch follows
    as long as a claim finds due messages (at most ``MAX_ROUNDS``): what arrived
    while a batch was delivered is the next batch, without a task and a broker
    round trip per batch. With ``linger`` (the Celery task passes
    ``MAILAPP_DELIVERY_LINGER``), a run that delivered something also waits that
    long for more before it ends, looking every ``IDLE_POLL`` seconds: in a
    steady stream, the next message is usually due before the task that names it
    reaches a worker. Lingering, a batch that was not full is followed by a pause of
    ``GATHER`` before the next claim: at one message every few milliseconds, a claim
    right away would take one or two, and each batch costs its claim, reads and record.
    A ``queue_id`` that another run holds (or that is done, or not due) is reported
    "skipped"; the run still drains the rest.
    """
    limit = max(1, settings.MAILAPP_DELIVERY_BATCH if batch is None else batch)
    named = queue_id
    results: dict[str, str] = {}
    rounds = 0
    idle_until = 0.0
    taken: tuple[str, list[str]] | None = None
    while rounds < MAX_ROUNDS:
        if taken is None:
            taken = claim_batch(queue_id, limit, settings.MAILAPP_DELIVERY_LEASE)
        if taken is None:
            if not results or time.monotonic() >= idle_until:
                break
            time.sleep(IDLE_POLL)
            continue
        rounds += 1
        token, ids = taken
        # A full batch means a backlog: the next batch is claimed in the transaction that records
        # this one (one write lock and one commit for both, where SQLite's writers queue).
        following: list[tuple[str, list[str]] | None] = []
        then = functools.partial(claim_batch, None, limit, settings.MAILAPP_DELIVERY_LEASE) \
            if len(ids) == limit and rounds < MAX_ROUNDS else None
        try:
            results.update(_run(ids, token, then, following))
        except Exception:
            release_all(ids, token)
            for claimed in following:
                if claimed is not None:
                    release_all(claimed[1], claimed[0])
            raise
        taken = following[0] if following else None
        idle_until = time.monotonic() + linger
        queue_id = None
        if linger and len(ids) < limit:
            time.sleep(GATHER)  # a stream, not a backlog: let more arrive (a batch costs 3-6 ms of CPU)
    if taken is not None:  # claimed with the last round's record, past MAX_ROUNDS: give it back
        release_all(taken[1], taken[0])
    if named is not None:
        results.setdefault(named, "skipped")
    return results


@dataclass
class _Work:
    """One message of a batch between its deliveries and its record."""

    message: QueueMessage
    pending: list[QueueRecipient]
    outcomes: dict[int, Outcome | local.Pending]
    raw: bytes | None = None
    remote: dict[str, list[QueueRecipient]] = field(default_factory=dict)  # domain -> recipients, not sent yet
    in_row: bool = False  # the body was spooled in the database (no file to remove)


def _run(ids: list[str], token: str, then: Callable[[], tuple[str, list[str]] | None] | None = None,
         following: list[tuple[str, list[str]] | None] | None = None) -> dict[str, str]:
    """Local copies of the whole batch first (one group commit per mailbox, one record for the
    messages that are then complete); then each message with remote recipients on its own, recorded
    right after its SMTP sessions, so a crash leaves at most one message's remote recipients in doubt.

    ``then`` (the next batch's claim) runs inside the record's transaction when the batch has no
    remote recipients; its result is appended to ``following``.
    """
    messages = QueueMessage.objects.in_bulk(ids)
    pending: dict[str, list[QueueRecipient]] = collections.defaultdict(list)
    open_rows = QueueRecipient.objects.filter(message_id__in=ids).exclude(state__in=QueueRecipient.FINAL)
    for rcpt in open_rows.order_by("pk"):
        pending[rcpt.message_id].append(rcpt)
    lease = Lease(ids, token, settings.MAILAPP_DELIVERY_LEASE)
    bodies = spool.read_many(ids)  # one query for the batch's bodies spooled in the database
    store = local.StoreBatch()
    results: dict[str, str] = {}
    work: list[_Work] = []
    for queue_id in ids:
        message = messages.get(queue_id)
        if message is None:  # deleted since the claim
            results[queue_id] = "lost"
            continue
        try:
            item = _deliver_local(message, pending[queue_id], token, lease, store, bodies.get(queue_id))
        except Exception:  # this message only: the others of the batch go on
            log.exception("%s: delivery run failed", queue_id)
            release(queue_id, token)
            results[queue_id] = "failed"
            continue
        if item is None:
            results[queue_id] = "held"
        else:
            work.append(item)
    store.commit()
    local_only = [item for item in work if not item.remote]
    if len(local_only) < len(work):
        then = None  # the next claim would wait for this batch's SMTP sessions
    results.update(_finish_many(local_only, token, timezone.now(), then, following))
    if then is not None and following is not None and not following:  # nothing recorded: no transaction ran
        following.append(then())
    for item in work:
        if item.remote:
            try:
                _deliver_remote(item, lease)
            except Exception:
                log.exception("%s: delivery run failed", item.message.queue_id)
                release(item.message.queue_id, token)
                results[item.message.queue_id] = "failed"
                continue
            results.update(_finish_many([item], token, timezone.now()))
    return results


def _hold(message: QueueMessage, token: str, reason: str) -> None:
    QueueMessage.objects.filter(queue_id=message.queue_id, claim_token=token).update(
        state=QueueMessage.HELD, last_error=reason, claim_token="", claimed_until=None)
    QueueEvent.objects.create(message=message, event="held", detail=reason)
    log.error("%s: %s; message held", message.queue_id, reason)


def _deliver_local(message: QueueMessage, pending: list[QueueRecipient], token: str, lease: Lease,
                   store: local.StoreBatch, body: bytes | None = None) -> _Work | None:
    """Plan one message's local copies into ``store`` and sort out its remote recipients; None if it is held.

    ``body``: the message's bytes if the batch read them from the database already (else its file)."""
    queue_id = message.queue_id
    if not pending:
        return _Work(message, [], {})
    try:
        raw = body if body is not None else spool.spool_path(queue_id).read_bytes()
    except FileNotFoundError:
        _hold(message, token, "spool file missing")
        return None
    if message.size and len(raw) != message.size:
        # The reception fsyncs the file while the rows commit, and answers only when both are
        # durable: a row whose file is not whole was never acknowledged (a power cut between
        # the two). Held, never delivered cut short; the operator may delete it.
        _hold(message, token, f"spool file incomplete ({len(raw)} of {message.size} octets)")
        return None
    now = timezone.now()
    for rcpt in pending:
        if rcpt.in_doubt:
            QueueEvent.objects.create(message=message, recipient=rcpt.address, event="in-doubt",
                                      detail="a run died after DATA; the remote host may have it already")
    item = _Work(message, pending, {}, raw, in_row=body is not None)
    hops = count_received(raw)
    if hops > settings.MAILAPP_MAX_HOPS:
        loop = outcome.bounced("5.4.6", f"too many hops ({hops} Received: headers): mail loop")
        item.outcomes = {r.pk: loop for r in pending}
        return item
    ctx = local.Context(message.queue_id, raw, message.sender, None, now)  # parsed when a script needs it
    remote_groups: dict[str, list[QueueRecipient]] = collections.defaultdict(list)
    for rcpt in pending:
        lease.touch()
        local_part, _, domain = rcpt.address.rpartition("@")
        if not local_part or not domain:
            item.outcomes[rcpt.pk] = outcome.bounced("5.1.3", f"<{rcpt.address}>: bad recipient address syntax")
            continue
        if config.canonical_domain(domain) is None:
            remote_groups[domain.lower()].append(rcpt)
            continue
        try:
            item.outcomes[rcpt.pk] = local.deliver_recipient(ctx, rcpt.address, store)
        except Exception as exc:  # a store or database hiccup: retry later, never lose the mail
            log.exception("%s: local delivery to %s failed", message.queue_id, rcpt.address)
            item.outcomes[rcpt.pk] = outcome.deferred("4.3.0",
                                                      f"local delivery failed: {exc.__class__.__name__}: {exc}")
    item.remote = dict(remote_groups)
    return item


def _deliver_remote(item: _Work, lease: Lease) -> None:
    """One SMTP session per remote domain of one message; outcomes into ``item``."""
    message, raw = item.message, item.raw
    assert raw is not None  # only messages read from the spool have remote recipients
    signature: list[bytes] = []

    def signed() -> bytes:  # one DKIM signature per message, made on first use
        from agents.mailauth.dkim import should_sign, sign_outgoing

        if not signature:
            ours = should_sign(message.source, message.auth_user)
            signature.append(sign_outgoing(raw, message.sender) if ours else raw)
        return signature[0]

    for domain, group in item.remote.items():
        lease.touch()
        by_address = {r.address: r for r in group}

        def mark(accepted: list[str]) -> None:
            QueueRecipient.objects.filter(message=message, address__in=accepted).update(in_doubt=timezone.now())

        try:
            results = remote.deliver_domain(signed(), message.sender, domain, list(by_address), before_data=mark)
        except Exception as exc:
            log.exception("%s: remote delivery to %s failed", message.queue_id, domain)
            failure = outcome.deferred("4.3.0", f"remote delivery failed: {exc.__class__.__name__}: {exc}")
            results = {a: failure for a in by_address}
        for address, result in results.items():
            item.outcomes[by_address[address].pk] = result


def _expire(message: QueueMessage, result: Outcome, now: datetime.datetime) -> Outcome:
    """A deferral past the maximum queue age becomes a bounce."""
    if result.state != outcome.DEFERRED or not backoff.expired(message.created, now, settings.MAILAPP_QUEUE_MAX_AGE):
        return result
    days = settings.MAILAPP_QUEUE_MAX_AGE / 86400
    return outcome.bounced("4.4.7", f"message expired after {days:g} days in the queue; last error: {result.detail}",
                           remote_host=result.remote_host, remote_reply=result.remote_reply)


@dataclass
class _Record:
    """What one message's run writes: its row update, recipient rows, events and DSNs."""

    work: _Work
    outcomes: dict[int, Outcome]
    update: dict
    all_final: bool
    bounced: list[tuple[QueueRecipient, Outcome]]
    deferred: list[tuple[QueueRecipient, Outcome]]
    warn: bool


def _plan_record(item: _Work, now: datetime.datetime) -> _Record:
    message, raw = item.message, item.raw
    outcomes = {pk: _expire(message, r.resolve() if isinstance(r, local.Pending) else r, now)
                for pk, r in item.outcomes.items()}
    rows = {r.pk: r for r in item.pending}
    bounced = [(rows[pk], r) for pk, r in outcomes.items() if r.state == outcome.BOUNCED]
    deferred = [(rows[pk], r) for pk, r in outcomes.items() if r.state == outcome.DEFERRED]
    all_final = all(pk in outcomes and outcomes[pk].final for pk in rows)  # the others were final already
    update: dict = {"claim_token": "", "claimed_until": None}
    warn = False
    if all_final:
        update |= {"state": QueueMessage.DONE, "last_error": ""}
    else:
        failures = max(1, message.attempts)  # the claim already counted this attempt
        update["next_attempt"] = backoff.next_attempt(now, failures, settings.MAILAPP_RETRY_MIN,
                                                      settings.MAILAPP_RETRY_MAX)
        if deferred and all(MOVING in r.detail for _, r in deferred):  # held by a mailbox move: soon again
            update["next_attempt"] = now + datetime.timedelta(seconds=MOVE_RETRY)
        if deferred:
            update["last_error"] = deferred[0][1].detail[:2000]
        age = (now - message.created).total_seconds()
        warn = bool(deferred and raw is not None and not message.delay_warned
                    and age >= settings.MAILAPP_DELAY_WARNING_AFTER)
        if warn:
            update["delay_warned"] = True
    return _Record(item, outcomes, update, all_final, bounced, deferred, warn)


def _finish_many(work: list[_Work], token: str, now: datetime.datetime,
                 then: Callable[[], tuple[str, list[str]] | None] | None = None,
                 following: list[tuple[str, list[str]] | None] | None = None) -> dict[str, str]:
    """Commit the outcomes, events, counters, DSNs and next attempts of a batch in one transaction.

    A message this run no longer holds (deleted, or its lease ran out and
    another run took over) has nothing recorded ("lost"). Spool files of
    messages now done are removed after the commit. ``then`` runs last in the
    same transaction (the next batch's claim); its result goes to ``following``.
    """
    if not work:
        return {}
    records = [_plan_record(item, now) for item in work]
    results: dict[str, str] = {}
    with transaction.atomic():
        held = set(QueueMessage.objects.select_for_update().filter(
            queue_id__in=[r.work.message.queue_id for r in records], claim_token=token)
            .values_list("queue_id", flat=True))
        kept = [r for r in records if r.work.message.queue_id in held]
        for lost in {r.work.message.queue_id for r in records} - held:
            log.warning("%s: claim lost (deleted or taken over); outcomes not recorded", lost)
            results[lost] = "lost"
        done = [r.work.message.queue_id for r in kept if r.all_final]
        if done:
            QueueMessage.objects.filter(queue_id__in=done).update(state=QueueMessage.DONE, last_error="",
                                                                  claim_token="", claimed_until=None)
            spool.remove_rows(done)  # cluster mode: the body goes in the transaction that finishes it
        for record in kept:
            if not record.all_final:
                QueueMessage.objects.filter(queue_id=record.work.message.queue_id).update(**record.update)
        alike: dict[tuple[str, str, str, str], list[int]] = collections.defaultdict(list)  # same new values
        events = []
        tally: collections.Counter[str] = collections.Counter()
        for record in kept:
            queue_id, rows = record.work.message.queue_id, {r.pk: r for r in record.work.pending}
            for pk, result in record.outcomes.items():
                last_error = "" if result.state == outcome.DELIVERED else result.detail[:2000]
                alike[(result.state, last_error, result.remote_reply, result.remote_host)].append(pk)
                events.append((queue_id, rows[pk].address, result.event or result.state, result.detail[:2000]))
                if result.event in COUNTED:
                    tally[COUNTED[result.event]] += 1
        for (state, last_error, remote_reply, remote_host), pks in alike.items():
            for start in range(0, len(pks), 500):
                QueueRecipient.objects.filter(pk__in=pks[start : start + 500]).update(
                    state=state, last_error=last_error, remote_reply=remote_reply, remote_host=remote_host,
                    updated=now, attempts=F("attempts") + 1, in_doubt=None)
        _EVENTS.run(events, now)  # a prepared executemany: bulk_create built a model and compiled a row each
        for event, amount in tally.items():
            count(event, amount)
        for record in kept:
            raw = record.work.raw
            if record.bounced and raw is not None:
                _send_dsn(record.work.message, raw, record.bounced, now, delay=False)
            if record.warn and raw is not None:
                _send_dsn(record.work.message, raw, record.deferred, now, delay=True)
        if then is not None and following is not None:
            try:  # a savepoint (claim_batch's own atomic): its failure leaves this record whole
                following.append(then())
            except Exception:
                log.exception("claiming the next batch with this one's record failed")
                following.append(None)
    spool.remove_many([r.work.message.queue_id for r in kept if r.all_final and not r.work.in_row])
    for record in kept:
        results[record.work.message.queue_id] = "done" if record.all_final else f"deferred {len(record.deferred)}"
    return results


def _send_dsn(message: QueueMessage, raw: bytes, failed: list[tuple[QueueRecipient, Outcome]],
              now: datetime.datetime, *, delay: bool) -> str | None:
    """Queue a bounce or delay warning to the envelope sender; never to the null sender."""
    kind = "delay" if delay else "bounce"
    if not message.sender:
        QueueEvent.objects.create(message=message, event=f"no-{kind}", detail="null sender: no DSN is sent")
        return None
    statuses = [RecipientStatus(address=row.address, action="delayed" if delay else "failed", status=result.status,
                                diagnostic=result.remote_reply or result.detail, original=row.original,
                                remote_mta=result.remote_host) for row, result in failed]
    dsn = build_dsn(hostname=settings.MAILAPP_HOSTNAME, sender=message.sender, queue_id=message.queue_id,
                    arrival=message.created, recipients=statuses, original=raw, delay=delay, now=now)
    purpose = kind + ":" + ",".join(sorted(row.address.lower() for row, _ in failed))
    queue_id = submit(dsn, Envelope(sender="", recipients=[message.sender], source=kind, parent=message.queue_id),
                      queue_id=derived_queue_id(message.queue_id, purpose))
    QueueEvent.objects.create(message=message, event=f"{kind}-sent", detail=f"DSN {queue_id} to <{message.sender}>")
    return queue_id


def due_ids(limit: int = 1000, grace: datetime.timedelta = SWEEP_GRACE) -> list[str]:
    """Active messages that are due and free, for the sweeper.

    A message never tried yet gets ``grace`` for its own task to reach a worker
    before the sweeper sends another.
    """
    now = timezone.now()
    return list(
        QueueMessage.objects.filter(free(), state=QueueMessage.ACTIVE, next_attempt__lte=now)
        .filter(Q(attempts__gt=0) | Q(created__lte=now - grace))
        .order_by("next_attempt")
        .values_list("queue_id", flat=True)[:limit]
    )


def pinned_nodes(queue_ids: list[str]) -> dict[str, str | bool]:
    """Cluster mode: for those of ``queue_ids`` pinned to a node, that node's name, or False while
    the node's lease has run out (a dead node: its copies wait in the queue, and are handed to
    it once it is back, rather than piling up in the broker's queue nobody reads)."""
    from agents.cluster import cluster_mode
    from agents.models import Node

    if not queue_ids or not cluster_mode():
        return {}
    pins = dict(QueueMessage.objects.filter(queue_id__in=queue_ids).exclude(node="").values_list("queue_id", "node"))
    alive = set(Node.objects.filter(lease_until__gt=timezone.now()).values_list("name", flat=True)) if pins else set()
    return {queue_id: node if node in alive else False for queue_id, node in pins.items()}


def run_due(limit: int = 1000, grace: datetime.timedelta = datetime.timedelta(0)) -> dict[str, str]:
    """Run every due message in this process, in batches (tests, and ``flushqueue --here``)."""
    results: dict[str, str] = {}
    for queue_id in due_ids(limit, grace):
        if queue_id not in results:
            results.update(run_batch(queue_id))
    return results
