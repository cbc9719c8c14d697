#!/usr/bin/env python
"""IMAP load: a random mix of client work against our imapd and Dovecot, side by side, logins included.

    .venv/bin/python bench/imapload.py [--clients 10 50] [--seconds 20] [--users 50] [--messages 200]

Sets up, in a fresh temporary directory:
  - mailappliance: a new MAILAPP_HOME (SQLite, migrated), ``--users`` mailboxes with real
    passwords (Django's default hasher, as in production), ``--messages`` messages delivered
    into each INBOX through the store, and ``manage.py imapd`` on free loopback ports;
  - Dovecot (Debian's package) on a hard-linked copy of the same Maildirs, its passwd-file
    holding SHA512-CRYPT hashes (Dovecot's default scheme), so both pay for a real login.
Then, for each client count, two mixes run for ``--seconds`` each, alternating servers:
  - ``login``: every client logs in, does three random operations and logs out, again and again;
  - ``steady``: every client logs in once and then does random operations.
Operations: SELECT INBOX, FETCH 1:* (FLAGS), the newest 20 ENVELOPEs, one BODY.PEEK[],
STORE +/-FLAGS \\Flagged, SEARCH UNSEEN, NOOP. Each LOGIN counts as one operation.
Before the cells every user logs in once to each server (``--no-warm`` skips it): our first login
of a user pays the full password hash (PBKDF2, 0.2 s of CPU) before the verified-credential cache
holds it, and that cold start is reported on its own line rather than spread over the first cell.
Printed per cell: operations per second, login latency (median, p99), each command's reply latency
(the longest, and how many took over 1 s: a client "stall"), the server's CPU seconds per 1,000
operations (user + system of its processes, Dovecot's exited ones included) and the ratio
ours / Dovecot (> 1 means we are faster); then, per operation, the latency median / p99 / max.
Every loop is bounded by time and by count; only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from imap import cpu_seconds, descendants, profile_commands  # noqa: E402

from tests.fakes import dovecot  # noqa: E402
from tests.ports import free_port, wait_port  # noqa: E402

DOMAIN = "load.example"
MAX_OPS_PER_CLIENT = 200_000  # the time bound ends a run long before this; it only bounds the loop
STALL = 1.0  # a reply slower than this is a stall (issue 17: none at 50 clients)
REPLY_TIMEOUT = 60.0  # a reply that never comes is an error, never a hung bench


def user(i: int) -> str:
    return f"user{i}@{DOMAIN}"


def password(i: int) -> str:
    return f"load password {i} of the bench"


# --- servers ------------------------------------------------------------------------------------


class Ours:
    def __init__(self, root: Path, users: int, messages: int) -> None:
        self.home = root / "mailapp"
        self.home.mkdir(exist_ok=True)
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update(
            MAILAPP_HOME=str(self.home), MAILAPP_HOSTNAME="imap.mailapp.bench", MAILAPP_BIND="127.0.0.1",
            MAILAPP_IMAP_PORT=str(self.port), MAILAPP_IMAPS_PORT=str(free_port()), MAILAPP_LOG_LEVEL="WARNING",
            DJANGO_SETTINGS_MODULE="mailappliance.settings", PYTHONPATH=str(REPO),
        )
        for name in ("DATABASE_URL", "MAILAPP_SQLITE_PATH", "CELERY_BROKER_URL"):
            self.env.pop(name, None)
        self.users, self.messages = users, messages
        self.proc: subprocess.Popen | None = None
        self.procs: list[subprocess.Popen] = []  # every imapd process started (several per variant)
        self.variants: list[tuple[str, int, list[int]]] = []  # (name, port, pids)

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, str(REPO / "manage.py"), *args], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def setup(self) -> None:
        done = self.home / "bench-setup-done"
        if done.exists() and done.read_text() == f"{self.users} {self.messages}":
            return  # a kept work directory (--workdir) of the same shape
        self.manage("migrate", "--noinput")
        script = f"""
import random, sys
sys.path.insert(0, {str(REPO / 'bench')!r})
from imap import make_message
from webadmin import services
from agents.store import default_store
services.create_domain({DOMAIN!r}, 'admin@{DOMAIN}')
rng = random.Random(7)
store = default_store()
for i in range({self.users}):
    address = f'user{{i}}@{DOMAIN}'
    services.create_mailbox(address, f'load password {{i}} of the bench')
    box = store.mailbox(address)
    for n in range({self.messages}):
        box.deliver(make_message(n, rng))
"""
        self.manage("shell", "-c", script)
        done.write_text(f"{self.users} {self.messages}")

    def maildir(self, i: int) -> Path:
        return self.home / "mail" / DOMAIN / f"user{i}"

    def start(self, profile: str | None = None, processes: tuple[int, ...] = (1,), auth_service: bool = True) -> None:
        """``manage.py imapd``; with ``profile``, under cProfile (worker threads included), written at SIGTERM.

        One variant per count in ``processes``, each on ports of its own: ``n`` imapd processes
        sharing them by SO_REUSEPORT, as the large profile's supervisor runs them
        (``MAILAPP_IMAP_PROCESSES``); all on the same data. With ``auth_service`` (the large
        profile's layout) each variant has its own ``manage.py authd`` that its imapd processes
        ask, and whose CPU counts with theirs; without, each process checks logins itself."""
        log = open(self.home / "imapd.log", "wb")
        command = [sys.executable, str(REPO / "manage.py"), "imapd"]
        if profile:
            command = [sys.executable, __file__, "--serve-profiled", str(Path(profile).resolve())]
        for n in processes:
            port = self.port if not self.variants else free_port()
            env = {**self.env, "MAILAPP_IMAP_PORT": str(port), "MAILAPP_IMAPS_PORT": str(free_port()),
                   "MAILAPP_IMAP_PROCESSES": str(n), "MAILAPP_PROFILE": "large", "MAILAPP_COMBINED_AGENTS": "0"}
            auth: list[subprocess.Popen] = []
            if auth_service:
                socket_path = self.home / "run" / f"auth-{len(self.variants)}" / "socket"
                env.update(MAILAPP_AUTH_SERVICE="1", MAILAPP_AUTH_SOCKET=str(socket_path))
                auth.append(subprocess.Popen([sys.executable, str(REPO / "manage.py"), "authd"], env=env, stderr=log))
                deadline = time.monotonic() + 60
                while not socket_path.exists():
                    if auth[0].poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("authd did not start")
                    time.sleep(0.1)
            procs = [subprocess.Popen(command, env=env, stderr=log) for _ in range(n)]
            self.procs += auth + procs
            for proc in procs:
                wait_port(port, proc)
            time.sleep(1)  # the others bind too
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"imapd exited with {proc.returncode}")
            self.variants.append(("ours" if n == 1 else f"ours x{n}", port, [proc.pid for proc in auth + procs]))
        self.proc = self.procs[0]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            proc.wait(30)


def serve_profiled(path: str) -> None:
    """Child process: ``manage.py imapd`` under cProfile; commands in worker threads get a profiler each."""
    import django

    django.setup()
    from django.core.management import call_command

    # CPU, not wall: the host is shared. call_command returns at SIGTERM (the command's own handler).
    profile_commands(path, lambda: call_command("imapd"), time.thread_time)


def configure_dovecot(root: Path, ours: Ours) -> dovecot.Dovecot:
    """Dovecot on hard-linked copies of our users' Maildirs, with its defaults for login (a login process
    per connection, auth cache off, SHA512-CRYPT) and room for a thousand connections; ``run()`` starts it."""
    root.chmod(0o755)  # the auth and mail processes run as other users
    names = [user(i) for i in range(ours.users)]
    return dovecot.configure(root / "dovecot", {name: password(i) for i, name in enumerate(names)},
                             protocols="imap", scheme="SHA512-CRYPT",
                             mail={name: ours.maildir(i) for i, name in enumerate(names)}, many_connections=True)


def server_cpu(pid: int) -> float:
    """CPU seconds of ``pid``, its live descendants and the children it has reaped (Dovecot's exited
    login and imap processes count too)."""
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        reaped = (int(fields[13]) + int(fields[14])) / ticks
    except OSError:
        reaped = 0.0
    return cpu_seconds(descendants(pid)) + reaped


# --- load ---------------------------------------------------------------------------------------


class Conn:
    """One IMAP connection that reads until its tagged answer (asyncio, cheap on the client side)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.n = reader, writer, 0

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)
        await reader.readline()
        return cls(reader, writer)

    async def command(self, text: str) -> bytes:
        async with asyncio.timeout(REPLY_TIMEOUT):
            return await self._command(text)

    async def _command(self, text: str) -> bytes:
        self.n += 1
        tag = b"L%d " % self.n
        self.writer.write(tag + text.encode() + b"\r\n")
        chunks = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("closed")
            chunks.append(line)
            if line.startswith(tag):
                if not line[len(tag):].startswith(b"OK"):
                    raise RuntimeError(f"{text!r}: {line!r}")
                return b"".join(chunks)
            if line.endswith(b"}\r\n"):  # a literal: read its octets, then the line goes on
                size = int(line[line.rindex(b"{") + 1:-3])
                chunks.append(await self.reader.readexactly(size))

    async def close(self) -> None:
        try:
            self.writer.write(b"Z LOGOUT\r\n")
            await self.writer.drain()
        finally:
            self.writer.close()


@dataclass
class Tally:
    ops: int = 0
    logins: list[float] = field(default_factory=list)
    latency: dict[str, list[float]] = field(default_factory=dict)  # per operation, each reply's seconds
    errors: int = 0
    cpu: float = 0.0  # the server's CPU seconds during the run

    def record(self, kind: str, seconds: float) -> None:
        self.latency.setdefault(kind, []).append(seconds)
        self.ops += 1

    @property
    def slowest(self) -> float:
        return max((max(v) for v in self.latency.values() if v), default=0.0)

    @property
    def stalls(self) -> int:
        return sum(1 for v in self.latency.values() for t in v if t > STALL)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


OPERATIONS = ("select", "flags", "envelopes", "body", "store", "search", "noop")


async def operation(conn: Conn, rng: random.Random, messages: int) -> str:
    kind = rng.choice(OPERATIONS)
    if kind == "select":
        await conn.command("SELECT INBOX")
    elif kind == "flags":
        await conn.command("FETCH 1:* (FLAGS)")
    elif kind == "envelopes":
        await conn.command(f"FETCH {max(1, messages - 19)}:* (UID ENVELOPE)")
    elif kind == "body":
        await conn.command(f"FETCH {rng.randint(1, messages)} (BODY.PEEK[])")
    elif kind == "store":
        sign = rng.choice("+-")
        await conn.command(f"STORE {rng.randint(1, messages)} {sign}FLAGS.SILENT (\\Flagged)")
    elif kind == "search":
        await conn.command("SEARCH UNSEEN")
    else:
        await conn.command("NOOP")
    return kind


async def client(port: int, index: int, users: int, messages: int, mix: str, until: float, tally: Tally) -> None:
    rng = random.Random(index)
    conn: Conn | None = None

    for _ in range(MAX_OPS_PER_CLIENT):
        if time.perf_counter() >= until:
            break
        try:
            if conn is None:
                started = time.perf_counter()
                conn = await Conn.open(port)
                who = rng.randrange(users)
                await conn.command(f'LOGIN "{user(who)}" "{password(who)}"')
                took = time.perf_counter() - started  # connect, greeting and LOGIN: what a client waits
                tally.logins.append(took)
                tally.record("login", took)
                started = time.perf_counter()
                await conn.command("SELECT INBOX")
                tally.record("select", time.perf_counter() - started)
                budget = 3 if mix == "login" else MAX_OPS_PER_CLIENT
            started = time.perf_counter()
            kind = await operation(conn, rng, messages)
            tally.record(kind, time.perf_counter() - started)
            budget -= 1
            if budget <= 0:
                await conn.close()
                conn = None
        except (ConnectionError, RuntimeError, OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            tally.errors += 1
            if tally.errors <= 3:
                print(f"    client {index}: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
            conn = None
    if conn is not None:
        await conn.close()


async def run_mix(port: int, clients: int, users: int, messages: int, mix: str, seconds: float,
                  server_pids: list[int]) -> Tally:
    tally = Tally()
    cpu = sum(server_cpu(pid) for pid in server_pids)
    until = time.perf_counter() + seconds
    await asyncio.gather(*(client(port, i, users, messages, mix, until, tally) for i in range(clients)))
    await asyncio.sleep(0.2)  # Dovecot's logged-out processes exit and are reaped: their CPU counts
    tally.cpu = sum(server_cpu(pid) for pid in server_pids) - cpu
    return tally


async def warm_up(port: int, users: int, parallel: int = 10) -> float:
    """Log every user in once (``parallel`` at a time); seconds it took."""
    started = time.perf_counter()
    pending = list(range(users))

    async def worker() -> None:
        while pending:
            who = pending.pop()
            conn = await Conn.open(port)
            await conn.command(f'LOGIN "{user(who)}" "{password(who)}"')
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(min(parallel, users))))
    return time.perf_counter() - started


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--mixes", nargs="+", default=["login", "steady"], choices=["login", "steady"])
    parser.add_argument("--no-warm", dest="warm", action="store_false",
                        help="do not log every user in once before the cells (cold credential cache)")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of our imapd to FILE")
    parser.add_argument("--workdir", type=Path, help="keep the data here and reuse it on the next run")
    parser.add_argument("--ours-only", action="store_true", help="skip Dovecot (for profiling; no ratios)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1],
                        help="run our imapd as this many processes sharing the port (several: one variant each)")
    parser.add_argument("--no-auth-service", dest="auth_service", action="store_false",
                        help="each imapd process checks logins itself (its own credential cache and hash cap)"
                             " instead of asking one manage.py authd, as the large profile does")
    parser.add_argument("--serve-profiled", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_profiled:
        serve_profiled(args.serve_profiled)
        return
    with side_by_side(args.workdir, "imapload-", args.users, args.messages) as (ours, theirs):
        ours.start(args.profile, tuple(args.processes), args.auth_service)
        theirs.run(deadline=60)
        assert theirs.process is not None
        servers = [("dovecot", theirs.imap_port, [theirs.process.pid]), *ours.variants]
        if args.ours_only:
            servers = servers[1:]
        names = [name for name, _port, _pids in servers]
        if args.warm:
            for name, port, pids in servers:
                # With the auth service (the default) one round fills the one cache. Without it each process
                # keeps its own and the kernel picks the process of a connection: log every user in often
                # enough that every process has seen each one (missed after 3n rounds: 1 in 2^(3n) for n = 2).
                rounds = 1 if name == "dovecot" or len(pids) == 1 or args.auth_service else 3 * len(pids)
                took = [asyncio.run(warm_up(port, args.users)) for _ in range(rounds)]
                print(f"  first login of {args.users} users (10 at a time), {name}: {took[0]:.1f} s"
                      + (f"; {rounds} rounds (each process sees each user): {sum(took):.1f} s" if rounds > 1 else ""),
                      flush=True)
        rows = []
        for clients in args.clients:
            for mix in args.mixes:
                cell = {}
                for name, port, pids in servers:
                    tally = asyncio.run(run_mix(port, clients, args.users, args.messages, mix, args.seconds, pids))
                    cell[name] = (tally, load_average())
                rows.append((clients, mix, cell))
                for name in names:
                    o = cell[name][0]
                    print(f"  {mix:6} {clients:3} clients: {name} {o.ops / args.seconds:8.1f} ops/s,"
                          f" {o.cpu * 1000 / max(1, o.ops):.3f} CPU s per 1,000", flush=True)
        if args.ours_only:
            return
        print(f"\nIMAP random mix, {args.seconds:.0f} s per cell, {args.users} users x {args.messages} messages;"
              " ratio = ours / dovecot (> 1: we are faster); load = 1-min load average after the run;"
              f" stalls = replies slower than {STALL:.0f} s; cpu = server CPU seconds per 1,000 operations")
        print(f"{'mix':6} {'clients':>7} | {'server':8} {'ops/s':>8} {'login p50':>10} {'login p99':>10}"
              f" {'slowest':>8} {'stalls':>6} {'cpu/1k':>7} {'errors':>6} {'load':>5} | {'ratio':>6}")
        for clients, mix, cell in rows:
            for name in names:
                ratio = cell[name][0].ops / max(1, cell["dovecot"][0].ops)
                tally, load = cell[name]
                logins = tally.logins or [0.0]
                print(f"{mix:6} {clients:7} | {name:8} {tally.ops / args.seconds:8.1f}"
                      f" {statistics.median(logins) * 1000:8.1f}ms {percentile(logins, 0.99) * 1000:8.1f}ms"
                      f" {tally.slowest:7.2f}s {tally.stalls:6} {tally.cpu * 1000 / max(1, tally.ops):7.2f}"
                      f" {tally.errors:6} {load:>5} | {ratio if name != 'dovecot' else '':>6.3}")
        print(f"\nreply latency per operation, ms: median / p99 / max ({' | '.join(names)})")
        for clients, mix, cell in rows:
            for kind in ("login", *OPERATIONS):
                shown = []
                for name in names:
                    values = cell[name][0].latency.get(kind) or [0.0]
                    shown.append(f"{statistics.median(values) * 1000:7.1f} {percentile(values, 0.99) * 1000:7.1f}"
                                 f" {max(values) * 1000:7.1f}")
                print(f"{mix:6} {clients:3} {kind:9} | {' | '.join(shown)}")
        print("\nour imapd: " + ", ".join(f"{name}: {len(pids)} process(es)" for name, _port, pids in ours.variants)
              + (" (authd included)" if args.auth_service else " (no auth service)"))


@contextmanager
def side_by_side(kept: Path | None, prefix: str, users: int, messages: int) -> Iterator[tuple[Ours, dovecot.Dovecot]]:
    """Both servers set up with the same users and mail, not yet started; stopped at the end, and their
    directory removed unless it is the kept ``--workdir``."""
    root = work_root(kept, prefix)
    ours = Ours(root, users, messages)
    theirs: dovecot.Dovecot | None = None
    try:
        print(f"setting up {users} users x {messages} messages in {root} ...", flush=True)
        ours.setup()
        theirs = configure_dovecot(root, ours)
        yield ours, theirs
    finally:
        ours.stop()
        if theirs is not None:
            theirs.stop(timeout=30)
        if kept is None:
            shutil.rmtree(root, ignore_errors=True)


def work_root(kept: Path | None, prefix: str) -> Path:
    """``kept`` (made if missing; its data is reused when the shape matches) or a new temporary directory."""
    if kept is None:
        return Path(tempfile.mkdtemp(prefix=prefix))
    kept.mkdir(parents=True, exist_ok=True)
    return kept.resolve()


if __name__ == "__main__":
    main()
