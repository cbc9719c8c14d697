"""Greylisting (RFC 6647): the first attempt of a (client network, sender, recipient) triplet
gets ``451 4.7.1``; a retry after the delay passes, and the triplet then passes at once.

The client is its /24 (IPv4) or /64 (IPv6) network, since big senders retry from
another address of the same pool. Time is read from the rows, so tests move it by
editing ``first_seen`` instead of sleeping.
"""

from __future__ import annotations

import datetime
import ipaddress

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

DEFERRED = "451 4.7.1 Greylisted: please try again later (RFC 6647)"


def network(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def check(ip: str, sender: str, recipient: str, now: datetime.datetime | None = None) -> str | None:
    """None to accept, or the 451 reply. Records the attempt."""
    from agents.models import GreylistTriplet

    now = now or timezone.now()
    key = {"client": network(ip), "sender": sender.lower()[:320], "recipient": recipient.lower()[:320]}
    delay = datetime.timedelta(seconds=settings.MAILAPP_GREYLIST_DELAY)
    window = datetime.timedelta(seconds=settings.MAILAPP_GREYLIST_RETRY_WINDOW)
    expiry = datetime.timedelta(seconds=settings.MAILAPP_GREYLIST_EXPIRY)
    with transaction.atomic():
        row = GreylistTriplet.objects.select_for_update().filter(**key).first()
        if row is None:
            try:
                with transaction.atomic():
                    GreylistTriplet.objects.create(**key, first_seen=now, last_seen=now)
            except IntegrityError:
                pass  # a parallel attempt made it
            return DEFERRED
        if row.passed and now - row.last_seen <= expiry:
            GreylistTriplet.objects.filter(pk=row.pk).update(last_seen=now, attempts=row.attempts + 1)
            return None
        age = now - row.first_seen
        if row.passed is None and delay <= age <= window:
            GreylistTriplet.objects.filter(pk=row.pk).update(passed=now, last_seen=now, attempts=row.attempts + 1)
            return None
        if age > window or row.passed:  # too late (or expired): start again
            GreylistTriplet.objects.filter(pk=row.pk).update(first_seen=now, last_seen=now, passed=None,
                                                             attempts=row.attempts + 1)
            return DEFERRED
        GreylistTriplet.objects.filter(pk=row.pk).update(last_seen=now, attempts=row.attempts + 1)
        return DEFERRED


def prune(now: datetime.datetime | None = None) -> int:
    """Delete triplets idle past the expiry (passed) or the retry window (never passed)."""
    from agents.models import GreylistTriplet

    now = now or timezone.now()
    expiry = datetime.timedelta(seconds=settings.MAILAPP_GREYLIST_EXPIRY)
    old = GreylistTriplet.objects.filter(passed__isnull=False, last_seen__lt=now - expiry)
    stale = GreylistTriplet.objects.filter(
        passed__isnull=True, first_seen__lt=now - datetime.timedelta(seconds=settings.MAILAPP_GREYLIST_RETRY_WINDOW))
    return old.delete()[0] + stale.delete()[0]
