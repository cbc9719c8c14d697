"""The compromised-account guard: stop a stolen password before the IP lands on blocklists.

An authenticated account's sending is measured over a window
(``MAILAPP_GUARD_WINDOW``) from rows that exist anyway: the queue's recipients
of the account's messages, the refusals of unknown recipients, the recipients
that remote hosts bounced, and the client addresses the account has submitted
from (``AccountAddress``). One of these trips the guard:

- ``recipients``: more recipients than ``guard_recipients`` in the window;
- ``unknown-recipients``: more unknown recipients refused than ``guard_unknown_recipients``;
- ``remote-rejects``: more recipients rejected by remote hosts than ``guard_remote_rejects``;
- ``new-address-burst``: from a client address first seen in the window, for an
  account that had sent from other addresses before, more recipients than
  ``guard_new_address_recipients`` (a password used from somewhere new, at once, a lot).

Each threshold comes from the sender domain's ``MailPolicy`` (0 = the global
setting). A new country is not a trigger: no GeoIP database is installed here
(docs/mailauth.md).

When it trips (:func:`trip`), the guard records an ``AccountHold`` (the account's
submission rights are suspended while it is open: :func:`suspended`), holds the
account's queued mail, and alerts: a message to postmaster@ of the account's
domain and a banner on the dashboard. An admin then releases or deletes the
held mail in one click (:func:`release`, :func:`delete`), which ends the hold.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.config import mailauth as mailauth_config

log = logging.getLogger(__name__)

REJECT_LOOKBACK_DAYS = 7  # a remote reject in the window may answer a message queued this long ago (retries)
SUSPENDED_REPLY = "550 5.7.1 <{account}>: account suspended for unusual sending; contact your postmaster"


@dataclass(frozen=True)
class Thresholds:
    window: int  # seconds
    recipients: int
    unknown_recipients: int
    remote_rejects: int
    new_address_recipients: int


@dataclass(frozen=True)
class Trigger:
    name: str  # recipients | unknown-recipients | remote-rejects | new-address-burst
    detail: str


def domain_of(account: str) -> str:
    return account.rpartition("@")[2].lower()


def thresholds_for(account: str) -> Thresholds:
    """The account's domain policy over the settings (0 in the policy = the setting)."""
    row = mailauth_config.mail_policy(domain_of(account))

    def pick(own: int, default: int) -> int:
        return own if own > 0 else default

    return Thresholds(
        window=settings.MAILAPP_GUARD_WINDOW,
        recipients=pick(row.guard_recipients if row else 0, settings.MAILAPP_GUARD_RECIPIENTS),
        unknown_recipients=pick(row.guard_unknown_recipients if row else 0, settings.MAILAPP_GUARD_UNKNOWN_RECIPIENTS),
        remote_rejects=pick(row.guard_remote_rejects if row else 0, settings.MAILAPP_GUARD_REMOTE_REJECTS),
        new_address_recipients=pick(row.guard_new_address_recipients if row else 0,
                                    settings.MAILAPP_GUARD_NEW_ADDRESS_RECIPIENTS),
    )


def suspended(account: str):
    """The open ``AccountHold`` of ``account`` (its submission rights are suspended), or None."""
    from agents.models import AccountHold

    if not account:
        return None
    return AccountHold.objects.filter(account=account.lower(), released__isnull=True).first()


def note_address(account: str, address: str, now: datetime.datetime | None = None) -> None:
    """Remember that ``account`` submitted from client ``address``."""
    from agents.models import AccountAddress

    if not account or not address:
        return
    now = now or timezone.now()
    account = account.lower()
    if AccountAddress.objects.filter(account=account, address=address).update(last_seen=now):
        return
    try:
        with transaction.atomic():
            AccountAddress.objects.create(account=account, address=address, first_seen=now, last_seen=now)
    except IntegrityError:  # another session noted it just now
        pass


def _new_address_since(account: str, address: str, since: datetime.datetime) -> datetime.datetime | None:
    """When ``address`` was first seen for ``account``, if that is inside the window and the
    account had been used from another address before (its first address is never "new")."""
    from agents.models import AccountAddress

    row = AccountAddress.objects.filter(account=account, address=address).first()
    if row is None:
        first = timezone.now()
    elif row.first_seen < since:
        return None
    else:
        first = row.first_seen
    known_cutoff = first - datetime.timedelta(days=settings.MAILAPP_GUARD_KNOWN_DAYS)
    others = AccountAddress.objects.filter(account=account, first_seen__lt=first, last_seen__gte=known_cutoff)
    return first if others.exclude(address=address).exists() else None


def assess(account: str, client_address: str = "", incoming: int = 0,
           now: datetime.datetime | None = None) -> Trigger | None:
    """Would ``account`` trip the guard, counting ``incoming`` more recipients from ``client_address``?"""
    from agents.models import AccountHold, QueueRecipient, Refusal

    if not settings.MAILAPP_GUARD or not account:
        return None
    account = account.lower()
    limits = thresholds_for(account)
    now = now or timezone.now()
    since = now - datetime.timedelta(seconds=limits.window)
    # An admin's release says the sending so far was legitimate: count only what came after it.
    released = (AccountHold.objects.filter(account=account, released__isnull=False)
                .order_by("-released").values_list("released", flat=True).first())
    if released is not None and released > since:
        since = released
    # Accounts are canonical (lower case) wherever they are stored: an exact match uses the
    # (auth_user, created) index on the queue.
    mine = QueueRecipient.objects.filter(message__auth_user=account)
    sent = mine.filter(message__created__gte=since).count() + incoming
    if sent > limits.recipients:
        return Trigger("recipients", f"{sent} recipients in {limits.window} s (limit {limits.recipients})")
    unknown = Refusal.objects.filter(auth_user=account, rule="unknown-recipient", when__gte=since).count()
    if unknown > limits.unknown_recipients:
        return Trigger("unknown-recipients",
                       f"{unknown} unknown recipients in {limits.window} s (limit {limits.unknown_recipients})")
    recent = mine.filter(message__created__gte=since - datetime.timedelta(days=REJECT_LOOKBACK_DAYS))
    rejects = recent.filter(state=QueueRecipient.BOUNCED, updated__gte=since).exclude(remote_host="").count()
    if rejects > limits.remote_rejects:
        return Trigger("remote-rejects",
                       f"{rejects} recipients rejected by remote hosts in {limits.window} s "
                       f"(limit {limits.remote_rejects})")
    if client_address:
        first = _new_address_since(account, client_address, since)
        if first is not None:
            burst = mine.filter(message__client_address=client_address, message__created__gte=first).count() + incoming
            if burst > limits.new_address_recipients:
                return Trigger("new-address-burst",
                               f"{burst} recipients from new address {client_address} since "
                               f"{first:%Y-%m-%d %H:%M:%S} (limit {limits.new_address_recipients})")
    return None


def trip(account: str, trigger: Trigger, client_address: str = ""):
    """Suspend ``account``, hold its queued mail and alert the admins; returns the ``AccountHold``.

    A second trip while a hold is open only holds what was queued since.
    """
    from agents.delivery import control
    from agents.models import AccountHold, QueueMessage

    account = account.lower()
    with transaction.atomic():
        hold = suspended(account)
        fresh = hold is None
        if hold is None:
            hold = AccountHold.objects.create(account=account, domain=domain_of(account), trigger=trigger.name,
                                              detail=trigger.detail, client_address=client_address)
    active = QueueMessage.objects.filter(auth_user__iexact=account, state=QueueMessage.ACTIVE)
    held = control.hold(list(active.values_list("queue_id", flat=True)), who="account guard", via="guard")
    if fresh:
        log.warning("account guard: %s suspended (%s: %s); %d message(s) held",
                    account, trigger.name, trigger.detail, len(held))
        _alert(hold, len(held))
    return hold


def _alert(hold, held: int) -> None:
    """A message to postmaster@ of the account's domain (from the null sender: it can't loop)."""
    from email.utils import formatdate, make_msgid

    from . import Envelope, derived_queue_id, submit

    hostname = settings.MAILAPP_HOSTNAME
    to = f"postmaster@{hold.domain or hostname}"
    body = (
        f"The account guard suspended the sending of {hold.account}.\r\n\r\n"
        f"Trigger: {hold.trigger}\r\nDetail: {hold.detail}\r\n"
        f"Client address: {hold.client_address or 'unknown'}\r\nMessages held: {held}\r\n\r\n"
        "If the password was stolen, change it, then delete the held mail on the dashboard's Queue page;\r\n"
        "if the sending was legitimate, release it there. Either ends the suspension.\r\n"
    )
    raw = (
        f"From: Mail system <MAILER-DAEMON@{hostname}>\r\nTo: <{to}>\r\n"
        f"Subject: Account guard: sending of {hold.account} suspended\r\n"
        f"Date: {formatdate()}\r\nMessage-ID: {make_msgid(domain=hostname)}\r\n"
        "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + body
    ).encode()
    try:
        submit(raw, Envelope(sender="", recipients=[to], source="guard"),
               queue_id=derived_queue_id(f"guard{hold.pk}", "alert"))
    except Exception:  # the banner still shows; the log has it
        log.exception("account guard: could not queue the alert for %s", hold.account)


def release(hold_id: int, who: str, via: str = "dashboard") -> list[str]:
    """End a hold: the account may send again and its held mail is delivered. Returns the ids released."""
    return _end(hold_id, who, via, "released")


def delete(hold_id: int, who: str, via: str = "dashboard") -> list[str]:
    """End a hold and delete the account's held mail (nothing is bounced). Returns the ids deleted."""
    return _end(hold_id, who, via, "deleted")


def _end(hold_id: int, who: str, via: str, outcome: str) -> list[str]:
    from agents.delivery import control
    from agents.models import AccountHold, QueueMessage

    with transaction.atomic():
        updated = AccountHold.objects.filter(pk=hold_id, released__isnull=True).update(
            released=timezone.now(), released_by=who[:320], outcome=outcome)
    if not updated:
        return []
    hold = AccountHold.objects.get(pk=hold_id)
    ids = list(QueueMessage.objects.filter(auth_user__iexact=hold.account, state=QueueMessage.HELD)
               .values_list("queue_id", flat=True))
    if outcome == "released":
        return control.release(ids, who=who, via=via)
    return control.delete(ids, who=who, via=via)


def sweep(now: datetime.datetime | None = None) -> int:
    """Assess every account that submitted in the window (Celery beat): catches remote rejects and
    unknown recipients that arrive after the account's last submission. Returns how many tripped."""
    from agents.models import QueueMessage, Refusal

    if not settings.MAILAPP_GUARD:
        return 0
    now = now or timezone.now()
    since = now - datetime.timedelta(seconds=settings.MAILAPP_GUARD_WINDOW)
    accounts = set(QueueMessage.objects.filter(created__gte=since).exclude(auth_user="")
                   .values_list("auth_user", flat=True))
    accounts |= set(Refusal.objects.filter(when__gte=since, rule="unknown-recipient").exclude(auth_user="")
                    .values_list("auth_user", flat=True))
    tripped = 0
    for account in sorted({a.lower() for a in accounts}):
        if suspended(account) is not None:
            continue
        trigger = assess(account, now=now)
        if trigger is not None:
            trip(account, trigger)
            tripped += 1
    return tripped
