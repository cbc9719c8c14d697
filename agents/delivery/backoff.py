"""The retry schedule: exponential backoff between a minimum and a maximum delay."""

from __future__ import annotations

import datetime


def retry_delay(failures: int, minimum: int, maximum: int) -> int:
    """Seconds to wait after the ``failures``-th failed attempt (1 → minimum, doubling, capped).

    >>> [retry_delay(n, 300, 3600) for n in range(1, 7)]
    [300, 600, 1200, 2400, 3600, 3600]
    """
    if failures < 1:
        return 0
    if minimum <= 0:
        return 0
    # Cap the exponent so huge attempt counts cannot build huge integers.
    return int(min(maximum, minimum * 2 ** min(failures - 1, 32)))


def next_attempt(now: datetime.datetime, failures: int, minimum: int, maximum: int) -> datetime.datetime:
    """When to try again after ``failures`` failed attempts."""
    return now + datetime.timedelta(seconds=retry_delay(failures, minimum, maximum))


def expired(created: datetime.datetime, now: datetime.datetime, max_age: int) -> bool:
    """True once a message has been queued longer than ``max_age`` seconds (then it bounces)."""
    return (now - created).total_seconds() >= max_age
