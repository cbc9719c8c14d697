"""Celery tasks of the fetcher: beat runs ``poll_sources`` every minute; it hands due sources to workers."""

from __future__ import annotations

import datetime
import logging

from celery import shared_task

log = logging.getLogger(__name__)


def due_sources(now: datetime.datetime | None = None) -> list[int]:
    """Ids of active sources whose next poll is due (a never-polled source is due at once)."""
    from django.utils import timezone

    from agents.config import fetch as fetch_config
    from agents.models import FetchState

    now = now or timezone.now()
    ids = fetch_config.active_source_ids()
    later = FetchState.objects.filter(source_id__in=ids, next_attempt__gt=now)
    waiting = set(later.values_list("source_id", flat=True))
    return [i for i in ids if i not in waiting]


def _home_node(source_id: int) -> str:
    """Cluster mode: the home node of the source's mailbox ("" on one machine, or if unknown)."""
    from agents import config
    from agents.cluster import cluster_mode
    from agents.config import fetch as fetch_config

    if not cluster_mode():
        return ""
    found = fetch_config.source(source_id)
    info = config.get_mailbox(found.mailbox) if found is not None else None
    return info.home_node if info is not None else ""  # a source gone meanwhile: its task finds nothing


@shared_task(name="agents.fetch.tasks.poll_sources", ignore_result=True)
def poll_sources() -> int:
    """Queue one ``fetch_source`` per due source; returns how many."""
    from django.utils import timezone

    from agents.config import fetch as fetch_config
    from agents.models import FetchState

    now = timezone.now()
    due = due_sources(now)
    for source_id in due:
        # Not due again until this poll has had its chance (the poll sets the real next time).
        FetchState.objects.get_or_create(source_id=source_id)
        FetchState.objects.filter(source_id=source_id).update(next_attempt=now + datetime.timedelta(minutes=5))
        home = _home_node(source_id)
        if home:  # cluster mode: polled on the node that holds the mailbox
            from agents.cluster import delivery_queue

            fetch_source.apply_async(args=[source_id], queue=delivery_queue(home))
        else:
            fetch_source.delay(source_id)
    live = fetch_config.source_ids()
    FetchState.objects.exclude(source_id__in=live).delete()  # sources deleted meanwhile
    return len(due)


@shared_task(name="agents.fetch.tasks.fetch_source", ignore_result=True)
def fetch_source(source_id: int) -> str:
    """Poll one source now (guarded by a lease: a second copy of the task does nothing)."""
    from .engine import poll

    result = poll(source_id)
    log.info("fetch %s", result)
    return str(result)
