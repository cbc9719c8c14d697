#!/usr/bin/env python
"""SMTP benchmark: our MX port against Postfix, side by side, accept and end-to-end rates.

    .venv/bin/python bench/smtp.py [--messages 2000] [--sessions 1 20 50] [--size 4096]
                                   [--patterns one rr100] [--worker-concurrency 2]
                                   [--processes N] [--mailauth-row 20] [--backend sqlite|postgres]

Sets up, in a fresh temporary directory:
  - mailappliance: a new MAILAPP_HOME (SQLite, migrated, the embedded file-system
    broker), domain example.com with mailboxes alice@ and user0@..user99@,
    ``manage.py smtpd`` on free loopback ports and a Celery worker (``celery -A
    mailappliance worker``) that delivers;
  - Postfix (Debian's package; ``scripts/setup.sh bench`` installs it) with its own
    config_directory and queue_directory, smtpd on an unprivileged loopback port,
    final delivery of example.com to Maildirs by virtual(8).
Then, for each recipient pattern and session count, the same number of messages
goes to each, alternating, and the script prints per second:
  - accept: every "250" received (the sending tool's run time);
  - end to end: until every message is in its recipient's Maildir — for us, until
    our queue says every recipient is delivered (which comes only after the Maildir
    file and its index entry are durable); for Postfix, until the Maildir files are there.
Patterns: ``one`` sends everything to alice@ with Postfix's smtp-source (a new
connection per message); ``rr100`` sends each message to the next of user0..99@
round-robin, with a small Python client (smtp-source cannot rotate recipients),
also a new connection per message and the same client for both servers.

Both are durable on "250": Postfix's cleanup fsyncs the queue file; we fsync the
spool file and its directory and commit the queue rows (group commit shares the
directory fsyncs and the commit across sessions). Postfix's MX-door checks are off
and so are ours (MAILAPP_MAILAUTH=0) in the table. ``--mailauth-row N`` adds a row for
``one`` at N sessions with our checks on (SPF, DKIM, DMARC, the spam rules; answered by a
DNS server on loopback, ``tests/fakes/dns.py``, that publishes SPF and DMARC for the
sender's domain), beside the same cell with them off: their cost, ours against ours.

``--backend postgres`` runs us on PostgreSQL + Redis: ``DATABASE_URL`` and
``CELERY_BROKER_URL`` must name running servers (``scripts/test-services.sh start`` prints
them); the script makes its own database ``mailapp_bench`` there (dropped first) and uses
Redis database 15 (flushed). The default is SQLite and the embedded file-system broker.

``--processes N`` runs N smtp listener processes sharing the ports (SO_REUSEPORT,
``MAILAPP_SMTP_PROCESSES``), as the large profile's supervisor does.

Besides the rates, each row gives the CPU time our smtp processes and our Celery worker
spent per message (user + system, from /proc, children included), and Postfix's beside it:
its reception processes (smtpd, cleanup, trivial-rewrite, anvil, proxymap; the counterpart of
our smtp agent) and all of Postfix (delivery included; the counterpart of smtp + worker). On a
shared machine wall-clock rates move with the load, CPU per message much less.
Postfix is stopped at the end (``postfix -c <dir> stop``); the system Postfix is never started.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import formatdate
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
DOMAIN = "example.com"
RECIPIENT = f"alice@{DOMAIN}"
ROUND_ROBIN = [f"user{n}@{DOMAIN}" for n in range(100)]
SENDER = "bench@remote.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.recv(100)
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


# --- mailappliance ----------------------------------------------------------------------------


def session_cpu(sid: int) -> float:
    """CPU seconds (user + system, reaped children included) of every process in session ``sid``."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # fields after the name: state ppid pgrp session ...
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def session_cpu_by_name(sid: int) -> dict[str, float]:
    """CPU seconds (user + system, own only) of each live process in session ``sid``, summed by
    its name, and under "*" the whole session's (reaped children included, as :func:`session_cpu`)."""
    found: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                head, tail = stat.read().rsplit(")", 1)
        except OSError:
            continue
        fields = tail.split()
        if int(fields[3]) == sid:
            name = head.split("(", 1)[1]
            found[name] = found.get(name, 0.0) + sum(int(f) for f in fields[11:13]) / tick
            found["*"] = found.get("*", 0.0) + sum(int(f) for f in fields[11:15]) / tick
    return found


PG_DATABASE = "mailapp_bench"


class Ours:
    def __init__(self, root: Path, backend: str = "sqlite", processes: int = 1) -> None:
        self.home = root / "mailapp"
        self.home.mkdir()
        self.port = free_port()
        self.backend = backend
        self.processes = processes
        self.env = dict(os.environ)
        self.procs: list[subprocess.Popen] = []
        self.workers: int | None = None
        self.profile: Path | None = None  # a directory: run our processes under bench/profiled.py
        # Like the Postfix beside it: no SPF/DKIM/DMARC look-ups (they would ask the
        # system resolver for every message and measure the network, not the MTA).
        self.env.setdefault("MAILAPP_MAILAUTH", "0")
        self.env.update(
            MAILAPP_HOME=str(self.home),
            MAILAPP_HOSTNAME="mx.mailapp.bench",
            MAILAPP_BIND="127.0.0.1",
            MAILAPP_SMTP_PORT=str(self.port),
            MAILAPP_SUBMISSION_PORT=str(free_port()),
            MAILAPP_SMTPS_PORT=str(free_port()),
            MAILAPP_LOG_LEVEL="WARNING",
            # Postfix exempts $mynetworks (loopback) from its per-client limits; so do we here
            # (unless the variable is set: 50, the default, shows whether slots come back in time).
            MAILAPP_SMTP_MAX_SESSIONS_PER_IP=os.environ.get("MAILAPP_SMTP_MAX_SESSIONS_PER_IP", "1000"),
            MAILAPP_SMTP_PROCESSES=str(processes),
            DJANGO_SETTINGS_MODULE="mailappliance.settings",
            PYTHONPATH=str(REPO),
        )
        self.env.pop("MAILAPP_SQLITE_PATH", None)
        if backend == "postgres":
            from urllib.parse import urlsplit, urlunsplit

            if not os.environ.get("DATABASE_URL") or not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
                raise SystemExit("--backend postgres needs DATABASE_URL and CELERY_BROKER_URL (redis://): "
                                 "scripts/test-services.sh start prints them")
            server = urlsplit(os.environ["DATABASE_URL"])
            self.pg_admin = urlunsplit(server._replace(path="/postgres"))
            self.env["DATABASE_URL"] = urlunsplit(server._replace(path=f"/{PG_DATABASE}"))
            self.env["CELERY_BROKER_URL"] = urlunsplit(urlsplit(os.environ["CELERY_BROKER_URL"])._replace(path="/15"))
        else:
            self.env.pop("DATABASE_URL", None)
            self.env.pop("CELERY_BROKER_URL", None)

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, str(REPO / "manage.py"), *args], env=self.env, check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL)

    def setup(self) -> None:
        if self.backend == "postgres":
            import psycopg
            import redis

            with psycopg.connect(self.pg_admin, autocommit=True) as db:
                db.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}")
                db.execute(f"CREATE DATABASE {PG_DATABASE}")
            redis.Redis.from_url(self.env["CELERY_BROKER_URL"]).flushdb()
        self.manage("migrate", "--noinput")
        script = (
            "from webadmin import services\n"
            "from agents.store import default_store\n"
            f"services.create_domain({DOMAIN!r}, 'admin@{DOMAIN}')\n"
            f"for address in {[RECIPIENT, *ROUND_ROBIN]!r}:\n"
            "    services.create_mailbox(address, None)\n"  # no password: no hashing, nobody logs in here
            # Made now, not by the first message: a mailbox's first use makes its Maildir and index
            # (~100 ms, paid at the first RCPT's quota check), and steady state is what is measured.
            "    default_store().mailbox(address)\n"
        )
        self.manage("shell", "-c", script)

    def start_smtpd(self, **env: str) -> None:
        """Our smtp listener processes (``processes`` of them sharing the ports), each in a session of its own
        (its CPU time is that session's)."""
        for n in range(self.processes):
            wrap = [str(REPO / "bench" / "profiled.py"), str(self.profile / f"smtpd{n}-{time.time():.0f}.prof")] \
                if self.profile else []
            self.procs.append(subprocess.Popen(
                [sys.executable, *wrap, str(REPO / "manage.py"), "smtpd",
                 *(["--workers", str(self.workers)] if self.workers else [])], env=dict(self.env, **env),
                stderr=open(self.home / f"smtpd{n}.log", "ab"), start_new_session=True, cwd=REPO))
        wait_port(self.port)
        # Every process listening (SO_REUSEPORT spreads connections only over bound sockets).
        time.sleep(1.0 if self.processes > 1 else 0)

    def stop_smtpd(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            proc.wait(30)
        self.procs = []

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of (our smtp processes, our Celery worker with its pool)."""
        return sum(session_cpu(p.pid) for p in self.procs) + self.cpu_before, session_cpu(self.worker.pid)

    cpu_before = 0.0

    def restart_smtpd(self, **env: str) -> None:
        self.cpu_before += sum(session_cpu(p.pid) for p in self.procs)
        self.stop_smtpd()
        self.start_smtpd(**env)

    def start(self, workers: int | None, concurrency: int) -> None:
        self.workers = workers
        self.start_smtpd()
        # Profiled, the worker runs its tasks in its own process (solo pool), where the profiler sees them.
        pool = ["--pool=solo"] if self.profile else ["--pool=prefork", f"--concurrency={concurrency}"]
        wrap = [str(REPO / "bench" / "profiled.py"), str(self.profile / "worker.prof")] if self.profile else []
        self.worker = subprocess.Popen(
            [sys.executable, *wrap, "-m", "celery", "-A", "mailappliance", "worker", *pool,
             "--without-mingle", "--without-gossip", "--without-heartbeat",
             "--loglevel=WARNING"],
            cwd=REPO, env=self.env, stdout=subprocess.DEVNULL, stderr=open(self.home / "worker.log", "wb"),
            start_new_session=True)

    def _count(self, query: str) -> int:
        if self.backend == "postgres":
            import psycopg

            with psycopg.connect(self.env["DATABASE_URL"]) as db:
                row = db.execute(query).fetchone()
                return int(row[0]) if row else 0
        import sqlite3

        with sqlite3.connect(self.home / "mailappliance.sqlite3", timeout=30) as db:
            return int(db.execute(query).fetchone()[0])

    def accepted(self) -> int:
        return self._count("select count(*) from agents_queuemessage")

    def delivered(self) -> int:
        """Recipients our queue says are delivered (each one's Maildir file and index entry are durable)."""
        return self._count("select count(*) from agents_queuerecipient where state = 'delivered'")

    def in_maildirs(self) -> int:
        base = self.home / "mail" / DOMAIN
        return sum(len(os.listdir(sub)) for sub in base.glob("*/new")) + sum(
            len(os.listdir(sub)) for sub in base.glob("*/cur"))

    def stop(self) -> None:
        self.stop_smtpd()
        worker = getattr(self, "worker", None)
        if worker and worker.poll() is None:
            os.killpg(worker.pid, 15)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, 9)


# --- Postfix ---------------------------------------------------------------------------------

MASTER_CF = """\
{port}    inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    def __init__(self, root: Path) -> None:
        self.root = root / "postfix"
        self.config = self.root / "etc"
        self.queue = self.root / "queue"
        self.data = self.root / "data"
        self.vmail = self.root / "vmail"
        self.port = free_port()

    def setup(self) -> None:
        for path in (self.config, self.data, self.queue, self.vmail / DOMAIN / "alice"):
            path.mkdir(parents=True)
        for path in (self.root.parent, self.root, self.queue):
            path.chmod(0o755)  # Postfix's daemons run as the postfix user and must get through
        nobody = 65534
        for path in (self.vmail, self.vmail / DOMAIN, self.vmail / DOMAIN / "alice"):
            os.chown(path, nobody, nobody)
        shutil.chown(self.data, "postfix")
        main_cf = f"""\
compatibility_level = 3.6
config_directory = {self.config}
queue_directory = {self.queue}
data_directory = {self.data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.postfix.bench
mydomain = postfix.bench
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_banner = $myhostname ESMTP
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {self.vmail}
virtual_mailbox_maps = texthash:{self.config}/vmailbox
virtual_uid_maps = static:{nobody}
virtual_gid_maps = static:{nobody}
maillog_file = {self.root}/maillog
maillog_file_prefixes = {self.root}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
biff = no
# Long-lived daemons, so that the CPU of each (smtpd, cleanup, ...) can be read from /proc by name
# at the end of a row (a process that exits hands its CPU to the master, nameless). Fewer forks
# than Postfix's defaults (100 uses, 100 s idle): if anything, Postfix is a little faster so.
max_use = 100000
max_idle = 3600
"""
        (self.config / "main.cf").write_text(main_cf)
        boxes = [RECIPIENT, *ROUND_ROBIN]
        (self.config / "vmailbox").write_text("".join(f"{a} {DOMAIN}/{a.split('@')[0]}/\n" for a in boxes))
        (self.config / "master.cf").write_text(MASTER_CF.format(port=f"127.0.0.1:{self.port}"))
        self.postfix("check")

    def postfix(self, *args: str) -> None:
        # Postfix reports to syslog or a terminal; "script" lends it one so errors reach us.
        command = " ".join([POSTFIX, "-c", str(self.config), *args])
        done = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"postfix {' '.join(args)} failed: {done.stdout.strip()[-500:]}")

    def start(self) -> None:
        self.postfix("start")
        wait_port(self.port)

    # Postfix's reception: what we compare with our smtp agent's CPU (its delivery: qmgr, virtual).
    RECEPTION = ("smtpd", "cleanup", "trivial-rewrite", "anvil", "proxymap")

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of (Postfix's reception processes, all of Postfix); the master calls setsid()."""
        master = int((self.queue / "pid" / "master.pid").read_text().split()[0])
        found = session_cpu_by_name(master)
        return sum(found.get(name, 0.0) for name in self.RECEPTION), found.get("*", 0.0)

    def delivered(self) -> int:
        base = self.vmail / DOMAIN
        return sum(len(os.listdir(sub)) for sub in base.glob("*/new")) + sum(
            len(os.listdir(sub)) for sub in base.glob("*/cur"))

    def stop(self) -> None:
        try:
            self.postfix("stop")
        except RuntimeError as exc:
            print(exc, file=sys.stderr)


# --- the run ---------------------------------------------------------------------------------


def wait_delivered(server: Ours | Postfix, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while server.delivered() < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def drive_smtp_source(port: int, sessions: int, messages: int, size: int) -> None:
    """Send with smtp-source to alice@ (raises if any was refused)."""
    done = subprocess.run(
        [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-l", str(size), "-f", SENDER, "-t", RECIPIENT,
         "-M", "bench.client", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=600,
    )
    if done.returncode != 0 or done.stderr.strip():
        raise RuntimeError(f"smtp-source against port {port} failed: {done.stderr.strip()[:500]}")


def drive_round_robin(port: int, sessions: int, messages: int, size: int) -> None:
    """``sessions`` clients, a new connection per message, recipients user0..99@ in turn (raises on a refusal)."""
    numbers = itertools.count()
    lock = threading.Lock()
    errors: list[BaseException] = []
    body = ("x" * 76 + "\r\n") * max(1, size // 78)

    def client() -> None:
        while not errors:
            with lock:
                n = next(numbers)
            if n >= messages:
                return
            rcpt = ROUND_ROBIN[n % len(ROUND_ROBIN)]
            data = (f"From: <{SENDER}>\r\nTo: <{rcpt}>\r\nDate: {formatdate()}\r\n"
                    f"Message-Id: <{n}.{time.time()}@bench.client>\r\nSubject: bench {n}\r\n\r\n{body}")
            try:
                with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.client", timeout=120) as smtp:
                    smtp.sendmail(SENDER, [rcpt], data.encode())
            except BaseException as exc:  # noqa: BLE001 (reported by the caller)
                errors.append(exc)
                return

    threads = [threading.Thread(target=client) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"round-robin client against port {port} failed: {errors[0]!r}")


DRIVERS = {"one": drive_smtp_source, "rr100": drive_round_robin}


def accept_target(sessions: int) -> float:
    """Issue 15's accept target, as a ratio to Postfix: level at one session, half as much again with many."""
    return 1.0 if sessions <= 1 else 1.5


END_TO_END_TARGET = 1.0


def verdicts(cells: list[tuple[str, int, float | None, float | None]]) -> list[str]:
    """One line per cell (pattern, sessions, accept ratio, end-to-end ratio): each target met, or by how much not."""

    def judge(what: str, value: float | None, target: float) -> str:
        if value is None:
            return f"{what} not measured (no Postfix figure or deliveries unfinished)"
        if value >= target:
            return f"{what} {value:.2f}x >= {target:.1f}x met"
        return f"{what} {value:.2f}x < {target:.1f}x NOT met, short by {(1 - value / target) * 100:.0f}%"

    return [f"{pattern:>9} {sessions:>8} | {judge('accept', accept, accept_target(sessions))}; "
            f"{judge('end to end', end_to_end, END_TO_END_TARGET)}"
            for pattern, sessions, accept, end_to_end in cells]


def measure(server: Ours | Postfix, pattern: str, sessions: int, messages: int, size: int,
            timeout: float) -> tuple[float, float | None]:
    """(accepted per second, end-to-end per second or None if the deliveries did not finish in ``timeout``)."""
    target = server.delivered() + messages
    started = time.monotonic()
    DRIVERS[pattern](server.port, sessions, messages, size)
    accepted = time.monotonic() - started
    if not wait_delivered(server, target, timeout):
        return messages / accepted, None
    return messages / accepted, messages / (time.monotonic() - started)


def ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}" if ours and theirs else "-"


def rate(value: float | None) -> str:
    return f"{value:.0f}" if value else "timeout"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000, help="messages per run (default 2000)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 20, 50])
    parser.add_argument("--patterns", nargs="+", choices=sorted(DRIVERS), default=["one", "rr100"])
    parser.add_argument("--size", type=int, default=4096, help="message payload in bytes (default 4096)")
    parser.add_argument("--workers", type=int, default=None, help="smtpd's forked workers (default: its own)")
    parser.add_argument("--processes", type=int, default=1,
                        help="smtp listener processes sharing the ports (MAILAPP_SMTP_PROCESSES; default 1)")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite",
                        help="sqlite + the file-system broker (default), or postgres + redis (see above)")
    parser.add_argument("--mailauth-row", type=int, default=None, metavar="SESSIONS",
                        help="add the cost of our MX-door checks: pattern one at SESSIONS, checks off and on")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="our Celery worker's processes")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for one run's deliveries")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="write cProfile files of our smtp processes and worker (solo pool) to DIR "
                             "(bench/profiled.py --summary reads them)")
    args = parser.parse_args()
    for tool in (SMTP_SOURCE, POSTFIX):
        if not Path(tool).exists():
            print(f"missing {tool}: scripts/setup.sh bench (installs Debian's postfix)", file=sys.stderr)
            return 1
    root = Path(tempfile.mkdtemp(prefix="bench-smtp-"))
    ours, postfix = Ours(root, args.backend, args.processes), Postfix(root)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        ours.profile = args.profile.resolve()
    dns = None
    try:
        ours.setup()
        postfix.setup()
        ours.start(args.workers, args.worker_concurrency)
        postfix.start()
        print(f"{args.messages} messages of {args.size} bytes per run, on loopback, {args.backend}, "
              f"{args.processes} smtp process(es); load average {os.getloadavg()[0]:.1f}; msg/s, ours / Postfix; "
              f"CPU ms per message: ours (smtp agent, worker, both), Postfix's (reception: smtpd, cleanup, "
              f"trivial-rewrite, anvil, proxymap; all of Postfix); load average after the row")
        print(f"{'pattern':>9} {'sessions':>8} | {'accept':>7} {'postfix':>7} {'ratio':>5} | "
              f"{'end2end':>7} {'postfix':>7} {'ratio':>5} | {'cpu smtp':>8} {'worker':>6} {'both':>6} | "
              f"{'pf rcv  all':>11} | load")
        sent = 0
        cells: list[tuple[str, int, float | None, float | None]] = []

        def row(pattern: str, sessions: int, label: str = "", against_postfix: bool = True) -> None:
            nonlocal sent
            smtp_cpu, worker_cpu = ours.cpu()
            ours_accept, ours_e2e = measure(ours, pattern, sessions, args.messages, args.size, args.timeout)
            smtp_now, worker_now = ours.cpu()
            smtp_used, worker_used = smtp_now - smtp_cpu, worker_now - worker_cpu
            pf_accept = pf_e2e = None
            pf_cpu = "-"
            if against_postfix:
                pf_before = postfix.cpu()
                pf_accept, pf_e2e = measure(postfix, pattern, sessions, args.messages, args.size, args.timeout)
                pf_after = postfix.cpu()
                pf_cpu = (f"{(pf_after[0] - pf_before[0]) * 1000 / args.messages:.2f}"
                          f" {(pf_after[1] - pf_before[1]) * 1000 / args.messages:.2f}")
            sent += args.messages if against_postfix else 0
            if against_postfix:
                cells.append((pattern, sessions, ours_accept / pf_accept if pf_accept else None,
                              ours_e2e / pf_e2e if ours_e2e and pf_e2e else None))
            per = 1000 / args.messages
            pf_a, pf_e = (rate(pf_accept), rate(pf_e2e)) if against_postfix else ("-", "-")
            print(f"{label or pattern:>9} {sessions:>8} | {ours_accept:>7.0f} {pf_a:>7} "
                  f"{ratio(ours_accept, pf_accept):>5} | {rate(ours_e2e):>7} {pf_e:>7} "
                  f"{ratio(ours_e2e, pf_e2e):>5} | {smtp_used * per:>8.2f} {worker_used * per:>6.2f} "
                  f"{(smtp_used + worker_used) * per:>6.2f} | {pf_cpu:>11} | {os.getloadavg()[0]:>4.1f}", flush=True)

        for pattern in args.patterns:
            for sessions in args.sessions:
                row(pattern, sessions)
        if args.mailauth_row:
            sys.path.insert(0, str(REPO))
            from tests.fakes.dns import FakeDNS

            # The sender's domain publishes SPF (loopback may send) and a DMARC policy; nothing is signed.
            dns = FakeDNS({"remote.test": {"TXT": ["v=spf1 ip4:127.0.0.0/8 -all"]},
                           "_dmarc.remote.test": {"TXT": ["v=DMARC1; p=none"]},
                           "bench.client": {"A": ["127.0.0.1"]}}).__enter__()
            ours.restart_smtpd(MAILAPP_MAILAUTH="0")
            row("one", args.mailauth_row, "auth off", against_postfix=False)
            ours.restart_smtpd(MAILAPP_MAILAUTH="1", MAILAPP_DNS_SERVER=dns.address)
            row("one", args.mailauth_row, "auth on", against_postfix=False)
        print("targets (issue 15): accept >= 1.0x Postfix at one session, >= 1.5x at more; end to end >= 1.0x")
        print("\n".join(verdicts(cells)))
        print(f"accepted: mailappliance {ours.accepted()} queue rows; delivered: mailappliance "
              f"{ours.delivered()} recipients ({ours.in_maildirs()} Maildir files), Postfix {postfix.delivered()} "
              f"Maildir files ({sent} sent to Postfix)")
    finally:
        ours.stop()
        postfix.stop()
        if dns is not None:
            dns.__exit__(None, None, None)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
