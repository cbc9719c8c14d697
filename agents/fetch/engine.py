"""One poll of one external source: log in, collect new messages through the mailbox's filters, tidy up.

Exactly once, even across crashes:
1. a message is stored through local delivery (``agents.delivery.local.deliver_mailbox``:
   filters, quota, the store) with the delivery key ``fetch:<source>:<uidvalidity>:<id>``
   (plus the mailbox), which the store honours idempotently;
2. only then is it recorded as seen (``FetchedMessage``), so a crash between 1 and 2
   re-delivers it under the same key, which stores nothing new;
3. only after that is it deleted on the server (``keep`` off), at the end of the run;
   a run that dies first leaves it there, and the next run deletes the seen leftovers.
Failures are stored on ``FetchState`` (shown in the admin and webmail) and back off
exponentially, capped at ``BACKOFF_CAP``.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from agents.config import fetch as fetch_config
from agents.config.fetch import SourceInfo
from agents.models import FetchedMessage, FetchState

from .clients import Account, FetchError, Remote, connect

log = logging.getLogger(__name__)

BACKOFF_CAP = datetime.timedelta(hours=6)
LEASE = datetime.timedelta(minutes=30)  # a poll that dies holds its source at most this long
MAX_PER_RUN = 1000  # messages per poll; more are collected by the next poll, right away


@dataclass
class PollResult:
    source_id: int
    fetched: int = 0
    deleted: int = 0
    error: str = ""
    skipped: str = ""  # why nothing was tried (busy, inactive, gone)

    def __str__(self) -> str:
        if self.skipped:
            return f"source {self.source_id}: skipped ({self.skipped})"
        if self.error:
            return f"source {self.source_id}: {self.error}"
        return f"source {self.source_id}: {self.fetched} fetched, {self.deleted} deleted"


def fetch_key(source_id: int, uidvalidity: str, ident: str) -> str:
    """The delivery key (and pseudo queue id) of one remote message; at most 32 characters."""
    key = f"fetch:{source_id}:{uidvalidity}:{ident}"
    if len(key) > 32:  # long POP3 UIDLs: QueueMessage.parent (forwards made by filters) holds 32
        key = "fetch:" + hashlib.sha256(key.encode()).hexdigest()[:26]
    return key


def account_for(source: SourceInfo, cafile: str | None = None) -> Account:
    """The connection details of an external source (decrypts the password)."""
    try:
        password = source.password()
    except ValueError as exc:
        raise FetchError("auth", str(exc)) from exc
    return Account(protocol=source.protocol, host=source.host, port=source.port, tls=source.tls,
                   verify=source.verify_certificate, login=source.login, password=password,
                   folder=source.folder, cafile=cafile)


def backoff(interval: int, failures: int) -> datetime.timedelta:
    """Wait after ``failures`` consecutive failures: the interval doubled per failure, capped."""
    return min(datetime.timedelta(seconds=max(60, interval) * 2 ** min(failures, 20)), BACKOFF_CAP)


def _claim(source_id: int, now: datetime.datetime) -> bool:
    FetchState.objects.get_or_create(source_id=source_id)
    free = Q(running_until__isnull=True) | Q(running_until__lt=now)
    return FetchState.objects.filter(free, source_id=source_id).update(running_until=now + LEASE) == 1


def _finish(source: SourceInfo, result: PollResult, more: bool) -> None:
    now = timezone.now()
    state = FetchState.objects.get(source_id=source.id)
    state.last_run = now
    state.running_until = None
    state.fetched += result.fetched
    if result.error:
        state.failures += 1
        state.last_error = result.error
        state.last_error_at = now
        state.next_attempt = now + backoff(source.interval, state.failures)
    else:
        state.failures = 0
        state.last_error = ""
        state.last_success = now
        state.next_attempt = now if more else now + datetime.timedelta(seconds=max(60, source.interval))
    state.save()


def poll(source_id: int, *, cafile: str | None = None,
         after_message: Callable[[int], None] | None = None) -> PollResult:
    """Collect the new messages of one source now. Never raises for remote trouble (it is recorded).

    ``after_message(n)`` is called after the n-th message is stored and recorded
    (progress; tests raise from it to simulate a crash).
    """
    result = PollResult(source_id)
    source = fetch_config.source(source_id)
    if source is None:
        result.skipped = "gone"
        return result
    if not source.active:
        result.skipped = "inactive"
        return result
    if not _claim(source_id, timezone.now()):
        result.skipped = "busy"
        return result
    more = False
    try:
        remote = connect(account_for(source, cafile))
        try:
            more = _collect(source, remote, result, after_message)
            remote.close()  # POP3: QUIT commits the deletions
        except BaseException:
            _drop(remote)
            raise
    except FetchError as exc:
        result.error = str(exc)
        log.warning("fetch source %s (%s@%s): %s", source_id, source.login, source.host, exc)
    except Exception as exc:  # a bug or a local failure (disk full): recorded and backed off, then raised
        result.error = f"internal error: {type(exc).__name__}: {str(exc)[:300]}"
        _finish(source, result, more)
        raise
    except BaseException:  # interrupted: just release the source
        FetchState.objects.filter(source_id=source_id).update(running_until=None)
        raise
    _finish(source, result, more)
    return result


def _drop(remote: Remote) -> None:
    drop = getattr(remote, "_drop", None)
    if drop is not None:
        drop()


def _collect(source: SourceInfo, remote: Remote, result: PollResult,
             after_message: Callable[[int], None] | None) -> bool:
    """Fetch what is new, then delete what is stored (keep off); True if more remain for the next run."""
    ids = remote.list_ids()
    uidvalidity = remote.uidvalidity
    seen_rows = FetchedMessage.objects.filter(source_id=source.id)
    seen = {(v, i) for v, i in seen_rows.values_list("uidvalidity", "ident")}
    seen_here = {i for v, i in seen if v == uidvalidity}
    new = [i for i in ids if i not in seen_here]
    to_delete = [] if source.keep else [i for i in ids if i in seen_here]  # left by a run that died
    address = source.mailbox
    for count, ident in enumerate(new[:MAX_PER_RUN], start=1):
        raw = remote.retrieve(ident)
        store_message(address, fetch_key(source.id, uidvalidity, ident), raw)
        FetchedMessage.objects.get_or_create(source_id=source.id, uidvalidity=uidvalidity, ident=ident)
        result.fetched += 1
        if not source.keep:
            to_delete.append(ident)
        if after_message is not None:
            after_message(count)
    if to_delete:
        remote.delete(to_delete)
        result.deleted = len(to_delete)
    # Forget ids the server no longer has (deleted here or elsewhere, or a new UIDVALIDITY).
    present = set(ids) - set(to_delete)
    stale = [(v, i) for v, i in seen if v != uidvalidity or i not in present]
    for start in range(0, len(stale), 500):
        chunk = stale[start : start + 500]
        query = Q()
        for v, i in chunk:
            query |= Q(uidvalidity=v, ident=i)
        FetchedMessage.objects.filter(query, source_id=source.id).delete()
    return len(new) > MAX_PER_RUN


def _sender(parsed) -> str:  # type: ignore[no-untyped-def]
    value = parsed.get("Return-Path").strip()
    return value[1:-1].strip() if value.startswith("<") and value.endswith(">") else value


def store_message(address: str, key: str, raw: bytes) -> str:
    """Deliver a fetched message into ``address`` through its filters, once per ``key``.

    Raises FetchError("local") when the mailbox cannot take it now (full, disabled):
    the message then stays on the server and is tried again by the next poll.
    """
    from agents.delivery import local, outcome
    from agents.delivery.message import parse

    parsed = parse(raw)
    ctx = local.Context(queue_id=key, raw=raw, sender=_sender(parsed), parsed=parsed, now=timezone.now())
    result = local.deliver_mailbox(ctx, address)
    if result.state == outcome.DEFERRED or (result.state == outcome.BOUNCED and "loop" not in result.detail):
        raise FetchError("local", f"not stored in {address}: {result.detail}")
    if result.state == outcome.BOUNCED:
        # Our own Delivered-To is already in it (mail forwarded out and collected back):
        # the filters would loop, so it goes to INBOX as it is rather than being lost.
        from agents.store import default_store

        default_store().mailbox(address).deliver(raw, delivery_key=f"{key}:{address}")
    return result.detail
