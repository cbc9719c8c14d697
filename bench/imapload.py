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
Printed per cell: operations per second, login latency (median, p99), the longest stall any
client saw between two answers, and the ratio ours / Dovecot (> 1 means we are faster).
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
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from imap import descendants, free_port, wait_port  # noqa: E402

DOMAIN = "load.example"
MAX_OPS_PER_CLIENT = 200_000  # the time bound ends a run long before this; it only bounds the loop


def user(i: int) -> str:
    return f"user{i}@{DOMAIN}"


def password(i: int) -> str:
    return f"load password {i} of the bench"


# --- servers ------------------------------------------------------------------------------------


class Ours:
    def __init__(self, root: Path, users: int, messages: int) -> None:
        self.home = root / "mailapp"
        self.home.mkdir()
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

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, str(REPO / "manage.py"), *args], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def setup(self) -> None:
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

    def maildir(self, i: int) -> Path:
        return self.home / "mail" / DOMAIN / f"user{i}"

    def start(self) -> None:
        log = open(self.home / "imapd.log", "wb")
        self.proc = subprocess.Popen([sys.executable, str(REPO / "manage.py"), "imapd"], env=self.env,
                                     stderr=log)
        wait_port(self.port, self.proc)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


DOVECOT_CONF = """
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
auth_mechanisms = plain login
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
first_valid_uid = 8
default_process_limit = 2000
default_client_limit = 4000
default_vsz_limit = 0
passdb {{
  driver = passwd-file
  args = username_format=%u {base}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/passwd
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 5000
}}
"""


class Dovecot:
    """Dovecot's defaults for login (a login process per connection, auth cache off, SHA512-CRYPT)."""

    def __init__(self, root: Path) -> None:
        self.base = root / "dovecot"
        self.base.mkdir()
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def setup(self, ours: Ours, users: int) -> None:
        lines = []
        for i in range(users):
            home = self.base / "home" / f"user{i}"
            maildir = home / "Maildir"
            for sub in ("cur", "new", "tmp"):
                (maildir / sub).mkdir(parents=True)
                for entry in (ours.maildir(i) / sub).iterdir():
                    os.link(entry, maildir / sub / entry.name)
            hashed = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", password(i)], check=True,
                                    capture_output=True, text=True).stdout.strip()
            lines.append(f"{user(i)}:{hashed}:8:8::{home}::\n")
        (self.base / "passwd").write_text("".join(lines))
        subprocess.run(["chown", "-R", "mail:mail", str(self.base / "home")], check=True)
        for directory in (self.base.parent, self.base):
            os.chmod(directory, 0o755)
        (self.base / "dovecot.conf").write_text(DOVECOT_CONF.format(base=self.base, port=self.port))

    def start(self) -> None:
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", str(self.base / "dovecot.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


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
    stall: float = 0.0
    errors: int = 0


OPERATIONS = ("select", "flags", "envelopes", "body", "store", "search", "noop")


async def operation(conn: Conn, rng: random.Random, messages: int) -> None:
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


async def client(port: int, index: int, users: int, messages: int, mix: str, until: float, tally: Tally) -> None:
    rng = random.Random(index)
    last = time.perf_counter()
    conn: Conn | None = None

    def answered() -> None:
        nonlocal last
        now = time.perf_counter()
        tally.stall = max(tally.stall, now - last)
        last = now
        tally.ops += 1

    for _ in range(MAX_OPS_PER_CLIENT):
        if time.perf_counter() >= until:
            break
        try:
            if conn is None:
                conn = await Conn.open(port)
                who = rng.randrange(users)
                started = time.perf_counter()
                await conn.command(f'LOGIN "{user(who)}" "{password(who)}"')
                tally.logins.append(time.perf_counter() - started)
                answered()
                await conn.command("SELECT INBOX")
                answered()
                budget = 3 if mix == "login" else MAX_OPS_PER_CLIENT
            await operation(conn, rng, messages)
            answered()
            budget -= 1
            if budget <= 0:
                await conn.close()
                conn = None
        except (ConnectionError, RuntimeError, OSError, asyncio.IncompleteReadError):
            tally.errors += 1
            conn = None
    if conn is not None:
        await conn.close()


async def run_mix(port: int, clients: int, users: int, messages: int, mix: str, seconds: float) -> Tally:
    tally = Tally()
    until = time.perf_counter() + seconds
    await asyncio.gather(*(client(port, i, users, messages, mix, until, tally) for i in range(clients)))
    return tally


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--mixes", nargs="+", default=["login", "steady"], choices=["login", "steady"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="imapload-"))
    ours, dovecot = Ours(root, args.users, args.messages), Dovecot(root)
    try:
        print(f"setting up {args.users} users x {args.messages} messages in {root} ...", flush=True)
        ours.setup()
        dovecot.setup(ours, args.users)
        ours.start()
        dovecot.start()
        rows = []
        for clients in args.clients:
            for mix in args.mixes:
                cell = {}
                for name, port in (("dovecot", dovecot.port), ("ours", ours.port)):
                    tally = asyncio.run(run_mix(port, clients, args.users, args.messages, mix, args.seconds))
                    cell[name] = (tally, load_average())
                rows.append((clients, mix, cell))
                d, o = cell["dovecot"][0], cell["ours"][0]
                print(f"  {mix:6} {clients:3} clients: dovecot {d.ops / args.seconds:8.1f} ops/s,"
                      f" ours {o.ops / args.seconds:8.1f} ops/s", flush=True)
        print(f"\nIMAP random mix, {args.seconds:.0f} s per cell, {args.users} users x {args.messages} messages;"
              " ratio = ours / dovecot (> 1: we are faster); load = 1-min load average after the run")
        print(f"{'mix':6} {'clients':>7} | {'server':8} {'ops/s':>8} {'login p50':>10} {'login p99':>10}"
              f" {'max stall':>10} {'errors':>6} {'load':>5} | {'ratio':>6}")
        for clients, mix, cell in rows:
            ratio = cell["ours"][0].ops / max(1, cell["dovecot"][0].ops)
            for name in ("dovecot", "ours"):
                tally, load = cell[name]
                logins = sorted(tally.logins) or [0.0]
                p99 = logins[min(len(logins) - 1, int(len(logins) * 0.99))]
                print(f"{mix:6} {clients:7} | {name:8} {tally.ops / args.seconds:8.1f}"
                      f" {statistics.median(logins) * 1000:8.1f}ms {p99 * 1000:8.1f}ms {tally.stall:9.2f}s"
                      f" {tally.errors:6} {load:>5} | {ratio if name == 'ours' else '':>6.3}")
        pids = descendants(ours.proc.pid) if ours.proc else []
        print(f"\nour imapd: {len(pids)} process(es)")
    finally:
        ours.stop()
        dovecot.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
