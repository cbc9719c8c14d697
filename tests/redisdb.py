"""A Redis database of its own for the processes a test starts (an appliance, a cluster's nodes).

Their Celery workers take any task in their database: two tests sharing one would take each
other's deliveries. Database 0 is the test processes' own; each xdist worker hands out the
numbers of its own range in turn and empties one before handing it out, so no two tests running
at once share a database (scripts/test-services.sh starts Redis with 256 of them). A Redis with
the default 16 falls back to a number drawn from the test's name, where a clash is possible.
"""

from __future__ import annotations

import itertools
import os
import zlib

import redis

_next = itertools.count()


def private_broker(broker: str, name: str) -> str:
    """``broker``'s server with a database no other test running now uses, emptied first."""
    base = broker.rsplit("/", 1)[0]
    client = redis.Redis.from_url(f"{base}/0")
    try:
        databases = int(client.config_get("databases").get("databases", 16))
    finally:
        client.close()
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    span = (databases - 1) // max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    if span >= 8:
        number = 1 + worker * span + next(_next) % span
    else:
        number = 1 + zlib.crc32(name.encode()) % (databases - 1)
    url = f"{base}/{number}"
    emptied = redis.Redis.from_url(url)
    try:
        emptied.flushdb()
    finally:
        emptied.close()
    return url


def own_broker() -> dict[str, str]:
    """``CELERY_BROKER_URL`` for an appliance a test starts (its supervisor runs Celery workers): a
    Redis database of its own when the run's broker is Redis, else nothing (the file broker lives
    under the appliance's own MAILAPP_HOME)."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis"):
        return {}
    return {"CELERY_BROKER_URL": private_broker(broker, os.environ.get("PYTEST_CURRENT_TEST", "appliance"))}
