"""``/metrics``: the appliance in Prometheus's text format, read from the database at scrape time.

Why the database and not prometheus-client's multiprocess mode: agents run as separate
processes (and, with PostgreSQL, on separate hosts), and the database is the one thing
they all share already. The engine writes counters it keeps anyway (``TrafficCounter``
per hour, ``Refusal`` rows, queue rows) and login outcomes (``MetricCounter``, written
in batches by ``agents.metrics``); this collector turns them into metric families when
Prometheus scrapes, so nothing is lost when a process restarts and every host's
agents land in one answer. Per-agent CPU and memory come from ``/proc`` for the
supervisor's children on this host (their pids are in ``AgentProcess``).

Access: ``Authorization: Bearer <MAILAPP_METRICS_TOKEN>`` when a token is set, or a
client address in ``MAILAPP_METRICS_ALLOW`` (loopback by default); anything else is 403.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.http import require_GET


def allowed(request: HttpRequest) -> bool:
    """May this request read the metrics? A matching bearer token, or an allowed client address."""
    token = str(settings.MAILAPP_METRICS_TOKEN or "")
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    try:
        client = ipaddress.ip_address(str(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return False
    for item in str(settings.MAILAPP_METRICS_ALLOW or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            if client in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponseForbidden("metrics: token or allowed address required\n", content_type="text/plain")
    # Loaded on the first scrape: prometheus-client and the collector are no cost to a web
    # process nobody scrapes (tests/supervisor/test_lean_imports.py).
    from .metrics_collector import scrape

    body, content_type = scrape()
    return HttpResponse(body, content_type=content_type)
