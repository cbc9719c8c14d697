"""Moving a mailbox to another node: pre-copy, freeze, copy the rest, verify, switch, retire.

:func:`start` records a :class:`~agents.models.MailboxMove` and sends :func:`run` to the
target node's own queue (``deliver.<target>``). There, the target's worker:

1. pulls a copy of the mailbox from the source node while it is in use (the *pre-copy*:
   an HTTP stream from the source's web server, authenticated by a key derived from the
   shared ``MAILAPP_SECRET_KEY`` and the move; :mod:`agents.store.transfer`);
2. *freezes* the mailbox (the row's state): from then on deliveries to it are deferred
   (their messages stay queued) and the source node's IMAP and POP3 agents end its sessions
   and refuse new logins (:func:`frozen_reason`); it waits ``SETTLE`` seconds for them;
3. pulls the rest: only the messages the pre-copy lacks, plus the index and every other
   file, exact now that nothing writes; checks each file's checksum and every folder's
   UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, count and size against the source's;
4. puts the copy in place and, in one transaction, switches ``home_node`` and marks the move
   switched; then releases the deferred deliveries, which now go to the new home;
5. sends the source node :func:`retire` (to ``deliver.<source>``): the old copy leaves the
   live tree, and is deleted if it is still exactly what was copied.

A failure before the switch unfreezes the mailbox (state ``failed``) and leaves it where it
was; the target's partial copy is removed.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import os
import shutil
import time
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from agents import config
from agents.models import MailboxMove, Node, QueueMessage, QueueRecipient

from . import MOVING, cluster_mode, this_node
from .homework import send_home

log = logging.getLogger(__name__)

SETTLE = 2.5  # seconds after the freeze: sessions on the source see it (1 s) and end
TIMEOUT = 600  # seconds for one HTTP pull


class MoveRefused(ValueError):
    """The move cannot start; the message says why, for a user."""


# --- starting and reading -----------------------------------------------------------------------


def start(address: str, target: str) -> MailboxMove:
    """Record a move of ``address`` to node ``target`` and send it to the target's queue.

    Raises :class:`MoveRefused` with a sentence when it cannot be done now."""
    if not cluster_mode():
        raise MoveRefused("moving a mailbox needs cluster mode (MAILAPP_CLUSTER=1): on one machine there is "
                          "nowhere to move it")
    info = config.get_mailbox(address)
    if info is None:
        raise MoveRefused(f"{address} is not a mailbox")
    source = config.home_nodes_fresh([info.address]).get(info.address, info.home_node)
    target = target.strip()
    if target == source:
        raise MoveRefused(f"{info.address} is homed on node {target} already")
    now = timezone.now()
    alive = dict(Node.objects.filter(name__in=[source, target]).values_list("name", "lease_until"))
    for role, node in (("target", target), ("source", source)):
        if node not in alive:
            raise MoveRefused(f"no node named {node!r} has ever run (the {role} must be running)")
        lease_until = alive[node]
        if lease_until is None or lease_until <= now:
            raise MoveRefused(f"node {node} is down: the {role} of a move must be running")
    try:
        with transaction.atomic():
            move = MailboxMove.objects.create(address=info.address, source=source, target=target,
                                              note="waiting for the target node's worker")
    except IntegrityError:
        raise MoveRefused(f"{info.address} is being moved already") from None
    try:
        send_home("agents.tasks.move_mailbox", [move.pk], target)
    except Exception as exc:
        _fail(move, f"could not reach the broker: {exc}")
        raise MoveRefused(f"could not send the move to node {target}: {exc}") from exc
    return move


def latest(address: str) -> MailboxMove | None:
    return MailboxMove.objects.filter(address=address.lower()).order_by("-started", "-pk").first()


def frozen_reason(address: str) -> str:
    """Why ``address`` may not be opened here now because it is moving ("" if it may): a frozen
    mailbox is opened nowhere, and once switched no longer on the old home (whose configuration
    cache may still say it is home for a moment). One query."""
    row = (MailboxMove.objects.filter(address=address.lower(), state__in=(MailboxMove.FROZEN, MailboxMove.SWITCHED))
           .values_list("state", "source", "target").first())
    if row is None:
        return ""
    state, source, target = row
    if state == MailboxMove.FROZEN:
        return f"This mailbox is being moved to node {target}; connect again in a moment"
    return f"This mailbox has moved to node {target}; connect there" if source == this_node() else ""


def frozen_mailboxes(addresses: list[str]) -> set[str]:
    """Those of ``addresses`` (canonical) frozen for a move now: no node writes them. One query."""
    if not addresses:
        return set()
    return set(MailboxMove.objects.filter(address__in=addresses, state=MailboxMove.FROZEN)
               .values_list("address", flat=True))


# --- the HTTP hand-over between nodes ------------------------------------------------------------


def pull_key(move: MailboxMove) -> str:
    """What the target shows the source: an HMAC of the move under the shared secret key, valid
    for this move and mailbox only."""
    text = f"movemailbox:{move.pk}:{move.address}:{move.source}:{move.target}"
    return hmac.new(settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


def authorised(move_id: int, key: str) -> MailboxMove | None:
    """The source's check of a pull: an unfinished move away from this node, with the right key."""
    move = MailboxMove.objects.filter(pk=move_id, source=this_node(), state__in=MailboxMove.UNFINISHED).first()
    if move is None or not hmac.compare_digest(pull_key(move), key):
        return None
    return move


def export(move: MailboxMove, have: set[str]) -> Iterator[bytes]:
    """The source side of a pull: the mailbox's tar stream (see :mod:`agents.store.transfer`)."""
    from agents.store import default_store
    from agents.store.transfer import export_stream, staging_dir

    store = default_store()
    path = store.path_for(move.address)
    if not path.is_dir():  # a mailbox that never received mail: make its empty store, so it has an index
        store.mailbox(move.address)
    scratch = staging_dir(store.root, f"out-{move.pk}-{uuid.uuid4().hex[:8]}")
    return export_stream(path, scratch, have)


def _pull(move: MailboxMove, into: Path, earlier: Path | None) -> dict:
    from agents.store.transfer import receive, unique_names

    have = sorted(unique_names(earlier)) if earlier is not None and earlier.is_dir() else []
    host = Node.objects.filter(name=move.source).values_list("address", flat=True).first() or ""
    if not host:
        raise RuntimeError(f"node {move.source} has no address")
    url = f"http://{_bracket(host)}:{settings.MAILAPP_HTTP_PORT}/cluster/moves/{move.pk}/archive"
    request = urllib.request.Request(url, data=zlib.compress("\n".join(have).encode()), method="POST",
                                     headers={"Authorization": f"Move {pull_key(move)}",
                                              "Content-Type": "application/zlib"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (our own node, http)
        return receive(response, into, earlier)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# --- the target's worker runs the move -----------------------------------------------------------


def run(move_id: int) -> str:
    """The move, on the target node (the Celery task ``agents.tasks.move_mailbox``)."""
    from agents.store import default_store
    from agents.store.transfer import place, staging_dir

    move = MailboxMove.objects.filter(pk=move_id).first()
    if move is None or move.state != MailboxMove.COPYING:
        return "skipped"
    if move.target != this_node():
        return _fail(move, f"node {this_node()} took a move meant for node {move.target}")
    root = default_store().root
    work = staging_dir(root, f"in-{move.pk}")
    shutil.rmtree(work, ignore_errors=True)
    pre, final = work / "pre", work / "final"
    try:
        _note(move, "pre-copy: pulling the mailbox while it is in use")
        _pull(move, pre, None)
        if not _set_state(move, MailboxMove.COPYING, MailboxMove.FROZEN, frozen_at=timezone.now(),
                          note="frozen: sessions end, deliveries wait"):
            raise RuntimeError("the move was changed by someone else")
        time.sleep(SETTLE)
        _note(move, "final copy: pulling what changed")
        manifest = _pull(move, final, pre)
        shutil.rmtree(pre, ignore_errors=True)
        aside = Path(settings.MAILAPP_ARCHIVE_DIR) / "replaced-by-move"
        stale = place(final, root, move.address, aside)
        if stale is not None:
            log.warning("move %s: an old copy of %s on this node was moved to %s", move.pk, move.address, stale)
        folders = manifest["folders"]
        counts = sum(f[3] for f in folders.values()), sum(f[4] for f in folders.values())
        with transaction.atomic():
            if not MailboxMove.objects.filter(pk=move.pk, state=MailboxMove.FROZEN).update(
                    state=MailboxMove.SWITCHED, messages=counts[0], bytes=counts[1],
                    note=f"switched to node {move.target}; node {move.source} retires its copy"):
                raise RuntimeError("the move was given up meanwhile (see expire_stuck)")
            if not config.switch_home_node(move.address, move.source, move.target):
                raise RuntimeError(f"{move.address} is no longer homed on node {move.source}")
    except Exception as exc:
        log.exception("move %s of %s failed", move.pk, move.address)
        _undo_copy(move, root)
        return _fail(move, f"{exc.__class__.__name__}: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    from . import usage

    usage.record({move.address: int(counts[1])})
    released = release_held(move.address)
    try:
        send_home("agents.tasks.retire_moved_mailbox", [move.pk, folders], move.source)
    except Exception as exc:  # the switch stands; the source keeps a copy nobody reads until retired by hand
        log.error("move %s: could not ask node %s to retire its copy: %s", move.pk, move.source, exc)
    log.info("move %s: %s now homed on node %s (%d messages, %d bytes; %d held deliveries released)",
             move.pk, move.address, move.target, counts[0], counts[1], released)
    return "switched"


def _undo_copy(move: MailboxMove, root: Path) -> None:
    """A failed move leaves no copy on the target, unless the switch happened (then it is the mailbox)."""
    from agents.store.transfer import staging_dir

    still_source = config.home_nodes_fresh([move.address]).get(move.address) == move.source
    if still_source:  # not this node's mailbox: any copy here goes (a placed copy, or a stale one)
        from agents.store.index import INDEX_NAME, forget
        from agents.store.mailbox import mailbox_path

        path = mailbox_path(root, move.address)
        if path.is_dir():
            forget(path / INDEX_NAME)
            doomed = staging_dir(root, f"failed-{move.pk}-{uuid.uuid4().hex[:8]}")
            doomed.parent.mkdir(parents=True, exist_ok=True)
            os.rename(path, doomed)
            shutil.rmtree(doomed, ignore_errors=True)


def release_held(address: str) -> int:
    """Deliveries deferred while ``address`` was frozen: due now, handed to workers again."""
    from agents.queue import enqueue_delivery

    ids = list(QueueRecipient.objects.filter(state=QueueRecipient.DEFERRED, last_error__contains=MOVING,
                                             message__state=QueueMessage.ACTIVE)
               .values_list("message_id", flat=True).distinct())
    if not ids:
        return 0
    QueueMessage.objects.filter(queue_id__in=ids).update(next_attempt=timezone.now())
    for queue_id in ids:
        enqueue_delivery(queue_id)
    return len(ids)


def retire(move_id: int, folders: dict) -> str:
    """On the old home after the switch (``agents.tasks.retire_moved_mailbox``): its copy leaves the
    live tree; deleted if nothing changed it after the final copy, else kept for the operator."""
    from agents.store import default_store
    from agents.store.transfer import drop

    move = MailboxMove.objects.filter(pk=move_id, state=MailboxMove.SWITCHED).first()
    if move is None:
        return "skipped"
    if move.source != this_node():
        return "not mine"
    aside = Path(settings.MAILAPP_ARCHIVE_DIR) / "moved-away"
    removed, where, late = drop(default_store().root, move.address, folders, aside)
    resent = _deliver_again(move, late)
    note = (f"moved to node {move.target}; the old copy on node {move.source} is removed" if removed else
            f"moved to node {move.target}; the old copy on node {move.source} changed after the final copy "
            f"and is kept at {where}; {resent} message(s) stored there after it were delivered again to the "
            "new home")
    _set_state(move, MailboxMove.SWITCHED, MailboxMove.DONE, finished=timezone.now(), note=note)
    released = release_held(move.address)  # anything this node deferred while it still thought it was home
    if not removed:
        log.error("move %s: %s", move.pk, note)
    return f"done ({released} released)"


FREEZE_LIMIT = datetime.timedelta(minutes=15)  # a move frozen longer has lost its worker: given up
COPY_LIMIT = datetime.timedelta(hours=12)  # a move never switched after this long is given up


def expire_stuck() -> int:
    """Give up moves whose target node died or whose worker vanished (the sweeper runs this): a
    mailbox must not stay frozen. The worker, if it still runs, then cannot switch (it checks the
    state in the switch's transaction) and removes its copy."""
    now = timezone.now()
    dead = set(Node.objects.filter(lease_until__lt=now).values_list("name", flat=True))
    stuck = MailboxMove.objects.filter(
        Q(state=MailboxMove.COPYING, started__lt=now - COPY_LIMIT)
        | Q(state=MailboxMove.FROZEN, frozen_at__lt=now - FREEZE_LIMIT)
        | Q(state__in=(MailboxMove.COPYING, MailboxMove.FROZEN), target__in=dead))
    given_up = 0
    for move in stuck:
        why = f"node {move.target} is down" if move.target in dead else "its worker stopped answering"
        _fail(move, f"given up: {why}; the mailbox stays on node {move.source}")
        given_up += 1
    return given_up


def _deliver_again(move: MailboxMove, late: list[Path]) -> int:
    """Messages that reached the old copy after the final copy (a delivery that passed its frozen
    check just before the freeze and stored just after it): queued again for the new home, each
    once (a queue id derived from the move and the file's unique name)."""
    from agents.queue import Envelope, derived_queue_id, submit

    for path in late:
        uniq = path.name.partition(":")[0]
        submit(as_received(path.read_bytes()), Envelope(sender="", recipients=[move.address], source="route",
                                                        node=move.target),
               queue_id=derived_queue_id(f"MOVE{move.pk:08d}", uniq))
    return len(late)


def as_received(stored: bytes) -> bytes:
    """A stored message without the ``Return-Path`` and ``Delivered-To`` lines its delivery put on
    top (delivered again with them, the loop check would take it for a forwarding loop)."""
    while stored[:12].lower() == b"return-path:" or stored[:13].lower() == b"delivered-to:":
        end = stored.find(b"\n")
        if end < 0:
            break
        stored = stored[end + 1:]
    return stored


def _note(move: MailboxMove, note: str) -> None:
    MailboxMove.objects.filter(pk=move.pk).update(note=note)


def _set_state(move: MailboxMove, before: str, after: str, **fields: object) -> bool:
    return bool(MailboxMove.objects.filter(pk=move.pk, state=before).update(state=after, **fields))


def _fail(move: MailboxMove, why: str) -> str:
    MailboxMove.objects.filter(pk=move.pk, state__in=(MailboxMove.COPYING, MailboxMove.FROZEN)).update(
        state=MailboxMove.FAILED, finished=timezone.now(), note=why[:2000])
    release_held(move.address)
    return f"failed: {why}"


def wait(move_id: int, timeout: float, every: float = 0.5) -> MailboxMove:
    """Poll a move until it is switched, done or failed, or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        move = MailboxMove.objects.get(pk=move_id)
        if move.state in (MailboxMove.SWITCHED, MailboxMove.DONE, MailboxMove.FAILED) or time.monotonic() > deadline:
            return move
        time.sleep(every)



def evictions(addresses: list[str]) -> dict[str, str]:
    """Of ``addresses`` (users with sessions in this process), those whose sessions must end now, with
    the sentence for the client: frozen for a move (on any node), or switched away from this node.
    One query on the unfinished moves (usually none), whatever the number of sessions: the IMAP and
    POP3 agents ask it every second. Logins to a mailbox homed elsewhere are refused at the door,
    so no other session can exist."""
    if not addresses:
        return {}
    wanted, here = set(addresses), this_node()
    reasons = {}
    moving = MailboxMove.objects.filter(state__in=(MailboxMove.FROZEN, MailboxMove.SWITCHED))
    for address, state, source, target in moving.values_list("address", "state", "source", "target"):
        if address not in wanted:
            continue
        if state == MailboxMove.FROZEN:
            reasons[address] = f"This mailbox is being moved to node {target}; connect again in a moment"
        elif source == here:
            reasons[address] = f"This mailbox has moved to node {target}; connect there"
    return reasons
