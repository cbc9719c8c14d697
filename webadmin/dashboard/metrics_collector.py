"""The collector behind ``/metrics`` (``webadmin.dashboard.metrics``): metric families computed
from the database rows when Prometheus scrapes. A module of its own so that prometheus-client is
imported on the first scrape, not by every web process when its URLs load.
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from agents.metrics import parse_labels
from agents.models import AgentProcess, MetricCounter, QueueMessage, QueueRecipient, Refusal, TrafficCounter
from agents.tls import certificate_expiry

# Seconds from "received" to "delivered", the buckets of the latency histogram.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0, 86400.0)
LATENCY_SAMPLE = 10_000  # the newest delivered recipients read per scrape: one bounded query



def scrape() -> tuple[bytes, str]:
    """The metrics page's body in Prometheus's text format, and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ApplianceCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _proc_stats(pid: int) -> tuple[float, int] | None:
    """(CPU seconds user+system, resident bytes) of a process on this host, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name may hold spaces: fields after ")" start at #3
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    rss = 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return cpu, rss


class ApplianceCollector(Collector):
    """Every metric family of the appliance, computed from the database when collected."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from self._messages()
        yield from self._queue(now)
        yield self._latency()
        yield from self._logins()
        yield from self._agents()
        yield from self._certificate(now)

    def _messages(self) -> Iterator[Metric]:
        messages = CounterMetricFamily(
            "mailapp_messages", "Messages by event (received, delivered, relayed, deferred, bounced), "
            "summed over the hourly traffic counters", labels=["event"])
        totals = dict(TrafficCounter.objects.values_list("event").annotate(total=Sum("count")))
        for event in ("received", "delivered", "relayed", "deferred", "bounced"):
            messages.add_metric([event], float(totals.get(event) or 0))
        yield messages
        rejected = CounterMetricFamily(
            "mailapp_messages_rejected", "Refused MAIL, RCPT, DATA and submissions by the rule that decided "
            "(kept for MAILAPP_REFUSAL_RETENTION_DAYS)", labels=["reason"])
        for rule, total in Refusal.objects.values_list("rule").annotate(total=Count("id")).order_by("rule"):
            rejected.add_metric([rule or "unknown"], float(total))
        yield rejected

    def _queue(self, now: datetime.datetime) -> Iterator[Metric]:
        depth = GaugeMetricFamily("mailapp_queue_depth", "Messages in the queue by state", labels=["state"])
        counts = dict(QueueMessage.objects.exclude(state=QueueMessage.DONE).values_list("state")
                      .annotate(n=Count("queue_id")))
        for state in (QueueMessage.ACTIVE, QueueMessage.HELD):
            depth.add_metric([state], float(counts.get(state) or 0))
        yield depth
        oldest = QueueMessage.objects.exclude(state=QueueMessage.DONE).aggregate(oldest=Min("created"))["oldest"]
        yield GaugeMetricFamily("mailapp_queue_oldest_message_age_seconds",
                                "Age of the oldest message still in the queue (0 when empty)",
                                value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    def _latency(self) -> Metric:
        rows = (QueueRecipient.objects.filter(state=QueueRecipient.DELIVERED)
                .order_by("-updated").values_list("message__created", "updated")[:LATENCY_SAMPLE])
        counts = [0] * len(LATENCY_BUCKETS)
        total, seconds = 0, 0.0
        for created, updated in rows:
            latency = max(0.0, (updated - created).total_seconds())
            total += 1
            seconds += latency
            for i, bound in enumerate(LATENCY_BUCKETS):
                if latency <= bound:
                    counts[i] += 1
        buckets = [(str(bound), float(n)) for bound, n in zip(LATENCY_BUCKETS, counts, strict=True)]
        buckets.append(("+Inf", float(total)))
        return HistogramMetricFamily(
            "mailapp_delivery_latency_seconds",
            f"Received to delivered, per recipient, over the newest {LATENCY_SAMPLE} deliveries in the queue rows",
            buckets=buckets, sum_value=seconds)

    def _logins(self) -> Iterator[Metric]:
        logins = CounterMetricFamily("mailapp_logins", "Logins by door and result (success, failure, refused)",
                                     labels=["protocol", "result"])
        for labels, value in MetricCounter.objects.filter(name="logins").values_list("labels", "value"):
            parsed = parse_labels(labels)
            logins.add_metric([parsed.get("protocol", ""), parsed.get("result", "")], float(value))
        yield logins

    def _agents(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("mailapp_agent_up", "1 if the supervisor's child is running", labels=["agent"])
        cpu = CounterMetricFamily("mailapp_agent_cpu_seconds", "CPU time (user + system) of an agent on this host",
                                  labels=["agent"])
        rss = GaugeMetricFamily("mailapp_agent_resident_memory_bytes", "Resident memory of an agent on this host",
                                labels=["agent"])
        here = socket.gethostname()
        mine = AgentProcess.objects.filter(node=settings.MAILAPP_NODE)  # each node's /metrics reports its own
        for name, host, pid, state in mine.values_list("name", "host", "pid", "state"):
            up.add_metric([name], 1.0 if state == "running" else 0.0)
            if pid and state == "running" and host in ("", here):
                stats = _proc_stats(pid)
                if stats is not None:
                    cpu.add_metric([name], stats[0])
                    rss.add_metric([name], float(stats[1]))
        yield from (up, cpu, rss)

    def _certificate(self, now: datetime.datetime) -> Iterator[Metric]:
        expires = certificate_expiry(Path(settings.MAILAPP_TLS_CERT))
        if expires is not None:
            yield GaugeMetricFamily("mailapp_certificate_days_left", "Days until the TLS certificate expires",
                                    value=(expires - now).total_seconds() / 86400)
