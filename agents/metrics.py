"""Counters that agent processes add to and ``/metrics`` reads: one collector, the database.

Agents run as separate processes, on one host or several; every one of them already
shares the database, so a counter is a ``MetricCounter`` row and the web process reads
the rows at scrape time (``webadmin.dashboard.metrics``). To keep a login free of a
write of its own, increments are kept in memory and written together at most
``FLUSH_DELAY`` seconds later by a short-lived timer thread (at once inside a
transaction, as in tests, where another thread would not see the caller's rows). An agent
that stops calls :func:`stop`, which writes what is pending itself and leaves no timer
behind to touch the database after the agent let go of it.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import Counter

log = logging.getLogger("agents.metrics")

FLUSH_DELAY = 1.0  # seconds an increment may wait in memory

_pending: Counter[tuple[str, str]] = Counter()
_lock = threading.Lock()
_timer: threading.Timer | None = None  # to write the pending increments; None once it fired
_last: threading.Timer | None = None  # the timer started last: it may be writing now


def labels_text(**labels: str) -> str:
    """``protocol=imap,result=success``: the stored form of a label set (sorted, commas and = removed)."""
    return ",".join(f"{k}={str(v).replace(',', '_').replace('=', '_')}" for k, v in sorted(labels.items()))


def parse_labels(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def add(name: str, amount: int = 1, **labels: str) -> None:
    """Add ``amount`` to counter ``name`` with ``labels``; written within ``FLUSH_DELAY`` seconds."""
    global _timer, _last
    from django.db import connection

    with _lock:
        _pending[(name, labels_text(**labels))] += amount
        if connection.in_atomic_block:
            start = False
        else:
            start = _timer is None
            if start:
                _timer = _last = threading.Timer(FLUSH_DELAY, _flush_in_thread)
                _timer.daemon = True
    if connection.in_atomic_block:
        flush()
    elif start and _timer is not None:
        _timer.start()


def _flush_in_thread() -> None:
    global _timer
    from django.db import connection

    with _lock:
        _timer = None
    try:
        flush()
    except Exception:  # a counter is never worth an agent's thread
        log.warning("could not write metric counters", exc_info=True)
    finally:
        connection.close()


def stop(timeout: float = 10.0) -> None:
    """Write every pending increment now, in this thread, and leave no timer to write them later.

    For an agent that stops (its servers call it once their sessions ended): the last logins are
    counted while its database is still there, and no timer thread fires after the agent (or a
    test) let go of the database. A write already under way in a timer thread is waited for.
    Increments added afterwards start a timer as ever."""
    global _timer
    from django.db import connection

    with _lock:
        timer, _timer = _timer, None
        last = _last
    if timer is not None:
        timer.cancel()
    if last is not None and last.is_alive() and last is not threading.current_thread():
        last.join(timeout)
    if not _pending:
        return
    try:
        flush()
    except Exception:  # a counter is never worth a clean stop
        log.warning("could not write metric counters", exc_info=True)
    finally:
        if not connection.in_atomic_block:
            connection.close()  # a stopping agent's thread is done with the database


def flush() -> None:
    """Write every pending increment now."""
    from django.db import transaction
    from django.db.models import F

    from agents.models import MetricCounter

    with _lock:
        pending = dict(_pending)
        _pending.clear()
    for (name, labels), amount in pending.items():
        with transaction.atomic():
            updated = MetricCounter.objects.filter(name=name, labels=labels).update(value=F("value") + amount)
            if not updated:
                _, created = MetricCounter.objects.get_or_create(name=name, labels=labels,
                                                                 defaults={"value": amount})
                if not created:
                    MetricCounter.objects.filter(name=name, labels=labels).update(value=F("value") + amount)


def _flush_at_exit() -> None:
    if _pending:
        try:
            flush()
        except Exception:
            log.warning("could not write metric counters at exit", exc_info=True)


atexit.register(_flush_at_exit)


def _forget_in_child() -> None:
    # A forked SMTP worker starts with no timer thread and must not write its parent's increments again.
    global _timer, _last, _lock
    _timer, _last, _lock = None, None, threading.Lock()
    _pending.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def login(service: str, result: str) -> None:
    """Count one login at a door: ``result`` is success, failure or refused (by the guard)."""
    add("logins", protocol=service, result=result)
