"""The appliance's health at a glance: processes, listening ports, the DNS resolver, TLS and ACME, disk."""

from __future__ import annotations

import datetime
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from agents.hostname import hostname_warning
from agents.loginguard.db import recent_locks
from agents.models import AgentProcess, LoginLock
from agents.tls import certificate_expiry, certificate_issuer

# A heartbeat older than this means the process is stuck or gone, whatever its state says.
STALE_AFTER = datetime.timedelta(seconds=60)
CONNECT_TIMEOUT = 0.5
CERT_WARN_DAYS = 21
DISK_WARN_FREE = 0.10
RESOLVER_TIMEOUT = 1.5  # seconds: a resolver slower than this already hurts every SMTP session

PORTS = [
    ("SMTP", "MAILAPP_SMTP_PORT"),
    ("Submission", "MAILAPP_SUBMISSION_PORT"),
    ("SMTPS", "MAILAPP_SMTPS_PORT"),
    ("IMAP", "MAILAPP_IMAP_PORT"),
    ("IMAPS", "MAILAPP_IMAPS_PORT"),
    ("POP3", "MAILAPP_POP3_PORT"),
    ("POP3S", "MAILAPP_POP3S_PORT"),
    ("ManageSieve", "MAILAPP_MANAGESIEVE_PORT"),
    ("HTTP", "MAILAPP_HTTP_PORT"),
]


@dataclass
class ProcessHealth:
    name: str
    state: str
    host: str
    pid: int | None
    uptime: datetime.timedelta | None
    heartbeat: datetime.datetime | None
    heartbeat_age: datetime.timedelta | None
    restarts: int
    last_exit: str
    restart_requested: bool
    ok: bool
    node: str = ""

    @property
    def uptime_text(self) -> str:
        return human_duration(self.uptime)

    @property
    def heartbeat_text(self) -> str:
        return "never" if self.heartbeat_age is None else human_duration(self.heartbeat_age) + " ago"


def human_duration(span: datetime.timedelta | None) -> str:
    """ "3d 4h", "2h 5m", "4m 10s", "12s": two units are enough to read at a glance."""
    if span is None:
        return "–"
    seconds = max(0, int(span.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


@dataclass
class PortHealth:
    name: str
    setting: str
    port: int
    listening: bool


@dataclass
class CertHealth:
    path: str
    expires: datetime.datetime | None
    days_left: int | None
    ok: bool
    issuer: str = ""


@dataclass
class ResolverHealth:
    server: str  # "host:port" asked, or "system resolver"
    name: str  # the known name asked for
    ok: bool
    note: str  # what went wrong, or what it answered


@dataclass
class AcmeHealth:
    enabled: bool
    directory: str
    state: str  # "", "issued", "failed", "not due"
    note: str
    when: datetime.datetime | None


@dataclass
class RestoreTestHealth:
    enabled: bool
    state: str  # "", "passed", "failed"
    note: str
    when: datetime.datetime | None


@dataclass
class DiskHealth:
    path: str
    total: int
    used: int
    free: int
    ok: bool

    @property
    def percent_used(self) -> int:
        return round(100 * self.used / self.total) if self.total else 0


@dataclass
class Health:
    processes: list[ProcessHealth]
    ports: list[PortHealth]
    certificate: CertHealth
    disk: DiskHealth | None
    bind: str = ""
    login_locks: list[LoginLock] = field(default_factory=list)  # accounts the login guard locked, last 24 h
    resolver: ResolverHealth | None = None
    hostname_warning: str | None = None
    acme: AcmeHealth | None = None
    restore_test: RestoreTestHealth | None = None
    failed_backups: list[str] = field(default_factory=list)  # "schedule: error" of schedules whose last backup failed

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> list[str]:
        """What needs attention, one short sentence each, for the top of the page."""
        found = []
        if self.hostname_warning:
            found.append(self.hostname_warning)
        if self.resolver is not None and not self.resolver.ok:
            found.append(f"DNS resolver {self.resolver.server} does not answer ({self.resolver.note}): "
                         "outbound mail waits and every inbound check is slow")
        if self.acme is not None and self.acme.state == "failed":
            found.append(f"certificate (ACME) failed: {self.acme.note}")
        if self.restore_test is not None and self.restore_test.state == "failed":
            found.append(f"the automatic restore test failed: {self.restore_test.note}")
        found += [f"the last backup of schedule {failure}" for failure in self.failed_backups]
        for proc in self.processes:
            if not proc.ok:
                stale = proc.state == "running"
                found.append(f"{proc.name}: {'no heartbeat for ' + proc.heartbeat_text if stale else proc.state}")
        closed = [f"{p.name} {p.port}" for p in self.ports if not p.listening]
        if closed:
            found.append("nothing listens on " + ", ".join(closed))
        if self.certificate.days_left is None:
            found.append("no TLS certificate")
        elif not self.certificate.ok:
            found.append(f"TLS certificate expires in {self.certificate.days_left} days")
        if self.disk is not None and not self.disk.ok:
            found.append(f"disk {self.disk.percent_used}% full")
        now = timezone.now()
        for lock in self.login_locks:
            if lock.until > now:
                found.append(f"login locked for {lock.account} until {lock.until:%H:%M} UTC after {lock.failures} "
                             f"failed logins from {lock.addresses} addresses")
        return found


def processes(now: datetime.datetime | None = None) -> list[ProcessHealth]:
    now = now or timezone.now()
    rows = []
    for proc in AgentProcess.objects.order_by("node", "name"):
        age = now - proc.heartbeat if proc.heartbeat else None
        running = proc.state == "running"
        uptime = now - proc.started if proc.started and running else None
        rows.append(
            ProcessHealth(
                name=proc.name,
                state=proc.state,
                host=proc.host,
                pid=proc.pid,
                uptime=uptime,
                heartbeat=proc.heartbeat,
                heartbeat_age=age,
                restarts=proc.restarts,
                last_exit=proc.last_exit,
                restart_requested=proc.restart_requested,
                ok=running and age is not None and age <= STALE_AFTER,
                node=proc.node,
            )
        )
    return rows


def request_restart(name: str, node: str | None = None) -> bool:
    """Ask the supervisor of ``node`` (default: this one) to restart its process ``name``; False if
    there is no such process."""
    node = node or settings.MAILAPP_NODE
    return AgentProcess.objects.filter(node=node, name=name).update(restart_requested=True) == 1


def nodes() -> list:
    """The nodes (agents.cluster.nodes.NodeStatus) with their agents and how many mailboxes each is home to."""
    from django.db.models import Count

    from agents.cluster import nodes as cluster_nodes
    from webadmin.models import Mailbox

    counts = {row["home_node"]: row["n"] for row in Mailbox.objects.values("home_node").annotate(n=Count("id"))}
    return cluster_nodes.statuses(counts)


def is_listening(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
    """A live TCP connect: the only proof that something accepts connections there."""
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    try:
        with socket.create_connection((connect_host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ports() -> list[PortHealth]:
    host = settings.MAILAPP_BIND
    wanted = [(name, key, int(getattr(settings, key))) for name, key in PORTS]
    # Probe in parallel so that eight closed ports cost one timeout, not eight.
    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        results = list(pool.map(lambda item: is_listening(host, item[2]), wanted))
    return [PortHealth(name, key, port, up) for (name, key, port), up in zip(wanted, results, strict=True)]


def certificate(now: datetime.datetime | None = None) -> CertHealth:
    now = now or timezone.now()
    path = Path(settings.MAILAPP_TLS_CERT)
    expires = certificate_expiry(path)
    if expires is None:
        return CertHealth(str(path), None, None, False)
    days = (expires - now).days
    return CertHealth(str(path), expires, days, days >= CERT_WARN_DAYS, certificate_issuer(path))


def resolver_probe() -> ResolverHealth:
    """Resolve a name that always exists through the resolver delivery uses, with a short timeout.

    A dead resolver defers every outbound message ("DNS timeout (MX)") and slows inbound
    SMTP, while every port still answers; only a question shows it.
    """
    import dns.exception
    import dns.resolver

    from .dnscheck import resolver

    server = settings.MAILAPP_DNS_SERVER or "system resolver"
    name = settings.MAILAPP_RESOLVER_PROBE_NAME
    res = resolver()
    res.timeout = res.lifetime = RESOLVER_TIMEOUT
    try:
        answer = res.resolve(name, "NS", raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return ResolverHealth(server, name, True, "answers (NXDOMAIN)")
    except dns.resolver.NoNameservers:
        return ResolverHealth(server, name, False, "it fails every question (SERVFAIL or refused)")
    except dns.exception.Timeout:
        return ResolverHealth(server, name, False, f"no answer within {RESOLVER_TIMEOUT:g} s")
    except (dns.exception.DNSException, OSError) as exc:
        return ResolverHealth(server, name, False, f"{exc.__class__.__name__}: {exc}")
    return ResolverHealth(server, name, True, f"answers ({len(answer.rrset or [])} records for {name})")


def acme() -> AcmeHealth:
    """What the last ACME run did (agents.acme writes it), and whether ACME is on."""
    from agents.acme import last_status

    status = last_status()
    when = status.get("when")
    return AcmeHealth(
        enabled=bool(settings.MAILAPP_ACME_DIRECTORY),
        directory=settings.MAILAPP_ACME_DIRECTORY,
        state=str(status.get("state", "")),
        note=str(status.get("note", "")),
        when=datetime.datetime.fromisoformat(when) if isinstance(when, str) else None,
    )


def restore_test() -> RestoreTestHealth:
    """What the automatic restore tests found: the settings' scheduled backup (agents.backup.check writes
    it) and the last one of each dashboard schedule. A failure of any of them is the row's state."""
    from agents.backup.check import last_status
    from agents.backup.schedule import latest_restore_tests
    from agents.config.backup import active_schedules

    found: list[tuple[str, str, datetime.datetime | None]] = []  # (state, note, when)
    status = last_status()
    if status.get("state"):
        when = status.get("when")
        found.append((str(status["state"]), str(status.get("note", "")),
                      datetime.datetime.fromisoformat(when) if isinstance(when, str) else None))
    for run in latest_restore_tests():
        found.append(("passed" if run.state == run.OK else "failed", f"{run.schedule_name}: {run.note}",
                      run.finished))
    enabled = bool(settings.MAILAPP_BACKUP_DIR) or bool(active_schedules())
    if not found:
        return RestoreTestHealth(enabled=enabled, state="", note="", when=None)
    failed = [f for f in found if f[0] == "failed"]
    shown = failed or found
    when = max((f[2] for f in shown if f[2] is not None), default=None)
    return RestoreTestHealth(enabled=enabled, state="failed" if failed else "passed",
                             note="; ".join(f[1] for f in shown), when=when)


def failed_backups() -> list[str]:
    """Active schedules whose last finished backup failed: "name failed: error"."""
    from agents.backup.schedule import latest_backups

    return [f"{run.schedule_name} failed: {run.note}" for run in latest_backups() if run.state == run.FAILED]


def disk() -> DiskHealth | None:
    home = Path(settings.MAILAPP_HOME)
    try:
        usage = shutil.disk_usage(home)
    except OSError:
        return None
    return DiskHealth(str(home), usage.total, usage.used, usage.free, usage.free >= DISK_WARN_FREE * usage.total)


def health() -> Health:
    with ThreadPoolExecutor(max_workers=2) as pool:  # the DNS question runs beside the port probes
        asked = pool.submit(resolver_probe)
        port_rows = ports()
        resolver_row = asked.result()
    return Health(
        processes=processes(), ports=port_rows, certificate=certificate(), disk=disk(), bind=settings.MAILAPP_BIND,
        login_locks=recent_locks(), resolver=resolver_row, hostname_warning=hostname_warning(settings.MAILAPP_HOSTNAME),
        acme=acme(), restore_test=restore_test(), failed_backups=failed_backups(),
    )
