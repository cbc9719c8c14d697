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
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents import config
from agents.models import QueueEvent, QueueMessage, QueueRecipient
from agents.queue import Envelope, derived_queue_id, spool, submit
from agents.queue.counters import count

from . import backoff, local, outcome, remote
from .claim import Lease, claim, free, release
from .dsn import RecipientStatus, build_dsn
from .message import count_received, parse
from .outcome import Outcome

log = logging.getLogger(__name__)

COUNTED = {"delivered": "delivered", "forwarded": "delivered", "relayed": "relayed", "deferred": "deferred",
           "bounced": "bounced"}
SWEEP_GRACE = datetime.timedelta(seconds=60)  # a fresh message's own task gets this long before the sweeper helps


def run(queue_id: str) -> str:
    """Deliver what is pending for ``queue_id``; return a one-line summary (for logs and tests)."""
    token = claim(queue_id, settings.MAILAPP_DELIVERY_LEASE)
    if token is None:
        return "skipped"
    try:
        return _run(queue_id, token)
    except Exception:
        release(queue_id, token)
        raise


def _run(queue_id: str, token: str) -> str:
    message = QueueMessage.objects.get(queue_id=queue_id)
    pending = list(message.recipients.exclude(state__in=QueueRecipient.FINAL))
    if not pending:
        return _finish(message, token, [], {}, timezone.now())
    try:
        raw = spool.read(queue_id)
    except FileNotFoundError:
        QueueMessage.objects.filter(queue_id=queue_id, claim_token=token).update(
            state=QueueMessage.HELD, last_error="spool file missing", claim_token="", claimed_until=None)
        QueueEvent.objects.create(message=message, event="held", detail="spool file missing")
        log.error("%s: spool file missing; message held", queue_id)
        return "held"
    now = timezone.now()
    for rcpt in pending:
        if rcpt.in_doubt:
            QueueEvent.objects.create(message=message, recipient=rcpt.address, event="in-doubt",
                                      detail="a run died after DATA; the remote host may have it already")
    lease = Lease(queue_id, token, settings.MAILAPP_DELIVERY_LEASE)
    outcomes = _deliver_all(message, raw, pending, now, lease)
    return _finish(message, token, pending, outcomes, timezone.now(), raw=raw)


def _deliver_all(message: QueueMessage, raw: bytes, pending: list[QueueRecipient],
                 now: datetime.datetime, lease: Lease) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    hops = count_received(raw)
    if hops > settings.MAILAPP_MAX_HOPS:
        loop = outcome.bounced("5.4.6", f"too many hops ({hops} Received: headers): mail loop")
        return {r.pk: loop for r in pending}
    ctx = local.Context(message.queue_id, raw, message.sender, parse(raw), now)
    remote_groups: dict[str, list[QueueRecipient]] = collections.defaultdict(list)

    def signed(cache: list[bytes] = []) -> bytes:  # noqa: B006 (one DKIM signature per run, made on first use)
        from agents.mailauth.dkim import should_sign, sign_outgoing

        if not cache:
            ours = should_sign(message.source, message.auth_user)
            cache.append(sign_outgoing(raw, message.sender) if ours else raw)
        return cache[0]
    for rcpt in pending:
        lease.touch()
        local_part, _, domain = rcpt.address.rpartition("@")
        if not local_part or not domain:
            outcomes[rcpt.pk] = outcome.bounced("5.1.3", f"<{rcpt.address}>: bad recipient address syntax")
            continue
        if config.canonical_domain(domain) is None:
            remote_groups[domain.lower()].append(rcpt)
            continue
        try:
            outcomes[rcpt.pk] = local.deliver_recipient(ctx, rcpt.address)
        except Exception as exc:  # a store or database hiccup: retry later, never lose the mail
            log.exception("%s: local delivery to %s failed", message.queue_id, rcpt.address)
            outcomes[rcpt.pk] = outcome.deferred("4.3.0", f"local delivery failed: {exc.__class__.__name__}: {exc}")
    for domain, group in remote_groups.items():
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
            outcomes[by_address[address].pk] = result
    return outcomes


def _expire(message: QueueMessage, result: Outcome, now: datetime.datetime) -> Outcome:
    """A deferral past the maximum queue age becomes a bounce."""
    if result.state != outcome.DEFERRED or not backoff.expired(message.created, now, settings.MAILAPP_QUEUE_MAX_AGE):
        return result
    days = settings.MAILAPP_QUEUE_MAX_AGE / 86400
    return outcome.bounced("4.4.7", f"message expired after {days:g} days in the queue; last error: {result.detail}",
                           remote_host=result.remote_host, remote_reply=result.remote_reply)


def _finish(message: QueueMessage, token: str, pending: list[QueueRecipient], outcomes: dict[int, Outcome],
            now: datetime.datetime, raw: bytes | None = None) -> str:
    """Commit outcomes, events, counters, DSNs and the next attempt; remove the spool file when done.

    Nothing is recorded if this run no longer holds the claim (the message was
    deleted, or the lease ran out and another run took over).
    """
    outcomes = {pk: _expire(message, result, now) for pk, result in outcomes.items()}
    rows = {r.pk: r for r in pending}
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
        if deferred:
            update["last_error"] = deferred[0][1].detail[:2000]
        age = (now - message.created).total_seconds()
        warn = bool(deferred and raw is not None and not message.delay_warned
                    and age >= settings.MAILAPP_DELAY_WARNING_AFTER)
        if warn:
            update["delay_warned"] = True
    tally: collections.Counter[str] = collections.Counter()
    events = []
    with transaction.atomic():
        if not QueueMessage.objects.filter(queue_id=message.queue_id, claim_token=token).update(**update):
            log.warning("%s: claim lost (deleted or taken over); outcomes not recorded", message.queue_id)
            return "lost"
        for pk, result in outcomes.items():
            QueueRecipient.objects.filter(pk=pk).update(
                state=result.state, last_error="" if result.state == outcome.DELIVERED else result.detail[:2000],
                remote_reply=result.remote_reply, remote_host=result.remote_host, updated=now,
                attempts=rows[pk].attempts + 1, in_doubt=None)
            events.append(QueueEvent(message=message, recipient=rows[pk].address, when=now,
                                     event=result.event or result.state, detail=result.detail[:2000]))
            if result.event in COUNTED:
                tally[COUNTED[result.event]] += 1
        QueueEvent.objects.bulk_create(events)
        for event, amount in tally.items():
            count(event, amount)
        if bounced and raw is not None:
            _send_dsn(message, raw, bounced, now, delay=False)
        if warn and raw is not None:
            _send_dsn(message, raw, deferred, now, delay=True)
    if all_final:
        spool.remove(message.queue_id)
        return "done"
    return f"deferred {len(deferred)}"


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


def run_due(limit: int = 1000, grace: datetime.timedelta = datetime.timedelta(0)) -> dict[str, str]:
    """Run every due message in this process (tests, and ``flushqueue --here``)."""
    return {queue_id: run(queue_id) for queue_id in due_ids(limit, grace)}
