"""POP3 benchmark: STAT + UIDL + RETR of every message, ours against Dovecot, side by side.

    .venv/bin/python bench/pop3.py [--sizes 2000 20000] [--rounds 3]

For each maildrop size the script
1. makes a private MAILAPP_HOME (SQLite, migrated) with one mailbox, and fills
   its INBOX with generated messages (1-50 KB, some lines starting with ".",
   CRLF as our delivery writes them). The files are dropped into the Maildir and
   adopted by the store's rescan, which is much faster than 20,000 fsynced
   deliveries and gives the same index;
2. copies that Maildir (message files only) for Dovecot, writes a Dovecot
   config of its own (``tests/fakes/dovecot.py``: passwd-file with a
   SHA512-CRYPT hash, maildir, loopback, unprivileged port) and runs
   ``dovecot -F`` from Debian's dovecot-pop3d;
3. starts ``manage.py pop3d`` (the real agent, as the supervisor runs it);
4. times one client session per round against each server: USER/PASS, STAT,
   UIDL, then RETR 1..N one command at a time (as fetchmail and getmail do),
   QUIT. The first session of each server is a warm-up (Dovecot builds its
   index then) and not counted; the best of ``--rounds`` is reported;
5. checks both servers sent the same number of messages and octets, and prints
   seconds, messages/s and the ratio Dovecot time / our time (>= 1.0: we are faster).

Needs Dovecot (Debian: dovecot-pop3d). Talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.fakes import dovecot  # noqa: E402
from tests.ports import free_port, wait_port  # noqa: E402

ADDRESS = "bench@example.com"
PASSWORD = "bench password 1939"
PROFILE = ""  # --profile FILE: cProfile of our agent, written when it stops
WORDS = "mail server queue folder message header body line pop imap smtp store index dovecot postfix".split()


# --- messages -----------------------------------------------------------------------------


def make_message(rng: random.Random, n: int) -> bytes:
    size = int(min(50_000, max(1_000, rng.lognormvariate(8.5, 0.8))))  # median ~5 KB
    header = (
        f"Return-Path: <sender{n % 97}@example.org>\r\n"
        f"Received: from mx.example.org by bench.example.com; Mon, 23 Nov 2026 12:00:00 +0000\r\n"
        f"From: Sender {n % 97} <sender{n % 97}@example.org>\r\nTo: <{ADDRESS}>\r\n"
        f"Subject: bench message {n}\r\nMessage-ID: <{n}.bench@example.org>\r\n"
        f"Date: Mon, 23 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
    )
    lines, total = [], len(header)
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        if rng.random() < 0.03:
            line = "." + line  # exercises dot-stuffing on both servers
        lines.append(line)
        total += len(line) + 2
    return (header + "\r\n".join(lines) + "\r\n").encode()


# --- our side -----------------------------------------------------------------------------


def run_django(script: str, env: dict[str, str]) -> str:
    """Run ``script`` in a child with Django set up for the bench's MAILAPP_HOME; its last output line."""
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + script], env=env,
                            capture_output=True, cwd=REPO)  # fmt: skip
    if result.returncode:
        raise SystemExit(result.stderr.decode(errors="replace"))
    return result.stdout.decode().strip().splitlines()[-1]


def prepare_ours(home: Path, count: int) -> tuple[Path, dict[str, str]]:
    """Migrate a fresh MAILAPP_HOME, create the mailbox, fill its INBOX. Returns (maildir, env)."""
    env = dict(os.environ, MAILAPP_HOME=str(home), DJANGO_SETTINGS_MODULE="mailappliance.settings")
    env["PYTHONPATH"] = str(REPO)
    env.pop("MAILAPP_SQLITE_PATH", None)
    env.pop("DATABASE_URL", None)
    script = f"""
from django.core.management import call_command
call_command("migrate", verbosity=0)
from webadmin import services
from agents.store import default_store
services.create_domain("example.com", "admin@example.com")
services.create_mailbox({ADDRESS!r}, {PASSWORD!r})
print(default_store().mailbox({ADDRESS!r}).path)
"""
    maildir = Path(run_django(script, env))
    rng = random.Random(count)
    stamp = int(time.time())
    new = maildir / "new"
    for n in range(count):
        raw = make_message(rng, n)
        (new / f"{stamp}.M{n}P1Q{n}.bench,S={len(raw)}").write_bytes(raw)
    adopt = f"""
from agents.store import default_store
inbox = default_store().mailbox({ADDRESS!r}).folder("INBOX")
inbox.refresh()
print(inbox.exists)
"""
    adopted = int(run_django(adopt, env))
    if adopted != count:
        raise SystemExit(f"store adopted {adopted} of {count} messages")
    return maildir, env


def start_ours(env: dict[str, str], port: int) -> subprocess.Popen:
    env = dict(env, MAILAPP_POP3_PORT=str(port), MAILAPP_POP3S_PORT=str(free_port()), MAILAPP_BIND="127.0.0.1")
    env["MAILAPP_DEV_MODE"] = "1"  # plaintext login on loopback, as Dovecot is configured below
    with open(Path(env["MAILAPP_HOME"]) / "pop3d.log", "wb") as log:  # the child keeps its own descriptor
        profile = ["-m", "cProfile", "-o", PROFILE] if PROFILE else []  # the agent exits cleanly on SIGTERM
        process = subprocess.Popen([sys.executable, *profile, str(REPO / "manage.py"), "pop3d"], env=env, stderr=log,
                                   cwd=REPO)
    wait_port(port, process)
    return process


# --- Dovecot ------------------------------------------------------------------------------


def start_dovecot(base: Path, source_maildir: Path) -> dovecot.Dovecot:
    """Copy the message files into a Maildir of Dovecot's own and run Dovecot (POP3 only) on it.

    Its password in Dovecot's default scheme, so both sides pay for a real password check (like with like).
    """
    base.parent.chmod(0o755)  # the auth and mail processes run as other users
    server = dovecot.configure(base, {ADDRESS: PASSWORD}, protocols="pop3", scheme="SHA512-CRYPT",
                               mail={ADDRESS: source_maildir}, copy_function=shutil.copy2)
    server.run(deadline=60)
    return server


# --- the client ---------------------------------------------------------------------------


class Client:
    """A lean POP3 client: one command at a time, multi-line replies read in large chunks."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.status()

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def status(self) -> bytes:
        while (nl := self.buf.find(b"\r\n")) < 0:
            self._fill()
        line = bytes(self.buf[:nl])
        del self.buf[: nl + 2]
        if not line.startswith(b"+OK"):
            raise RuntimeError(f"server said {line!r}")
        return line

    def command(self, line: bytes) -> bytes:
        self.sock.sendall(line + b"\r\n")
        return self.status()

    def multiline(self, line: bytes) -> bytes:
        """Send ``line``; return the dot-stuffed body with its terminator."""
        self.command(line)
        if self.buf.startswith(b".\r\n"):
            del self.buf[:3]
            return b""
        while (end := self.buf.find(b"\r\n.\r\n", max(0, len(self.buf) - (1 << 20) - 5))) < 0:
            self._fill()
        body = bytes(self.buf[: end + 2])
        del self.buf[: end + 5]
        return body

    def close(self) -> None:
        self.command(b"QUIT")
        self.sock.close()


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of these processes (all their threads), in nanoseconds from /proc/PID/task/*/schedstat.

    The kernel's run-time count: a 2,000-message session is 50-100 ms of CPU, and the
    10 ms ticks of /proc/PID/stat (the fallback) would be a fifth of it.
    """
    total = 0.0
    for pid in pids:
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                total += int((task / "schedstat").read_text().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                try:
                    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                    total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                except OSError:
                    continue
    return total


def tree_cpu(root: int) -> float:
    """CPU seconds (clock ticks) of ``root`` and every descendant, running or already reaped.

    The whole session, login to QUIT: Dovecot spreads it over its login, auth and per-session
    ``pop3`` processes, and the kernel adds a reaped child's time to its parent's (cutime).
    """
    stats: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    tree, grown = {root}, True
    while grown:
        grown = False
        for pid, (ppid, _) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grown = True
    return sum(stats[pid][1] for pid in tree if pid in stats) / os.sysconf("SC_CLK_TCK")


def server_pids(process: subprocess.Popen) -> list[int]:
    """Our agent is one process; Dovecot serves a session in a child ``pop3`` process of its master."""
    if Path(process.args[0]).name != "dovecot":
        return [process.pid]
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, rest = stat.split("(", 1)[1].rsplit(")", 1)
            if name == "pop3" and int(rest.split()[1]) == process.pid:
                pids.append(int(entry.name))
    return pids


@dataclass
class Run:
    seconds: float  # STAT + UIDL + RETR all, wall clock
    cpu: float  # server CPU seconds for the same
    login: float
    messages: int
    octets: int
    session_seconds: float  # the whole session: connect, login, STAT, UIDL, RETR all, QUIT
    session_cpu: float  # the server's CPU for it, every process of it (ticks)


def session(port: int, process: subprocess.Popen) -> Run:
    """One full download session, timed from after login to the last RETR, and as a whole."""
    whole_before = tree_cpu(process.pid)
    start = time.perf_counter()
    client = Client(port)
    client.command(b"USER " + ADDRESS.encode())
    client.command(b"PASS " + PASSWORD.encode())
    pids = server_pids(process)
    cpu_before = cpu_seconds(pids)
    logged_in = time.perf_counter()
    count = int(client.command(b"STAT").split()[1])
    uidls = client.multiline(b"UIDL").count(b"\r\n")
    assert uidls == count, (uidls, count)
    octets = 0
    for number in range(1, count + 1):
        octets += len(client.multiline(b"RETR %d" % number))
    done = time.perf_counter()
    cpu = cpu_seconds(pids) - cpu_before
    client.close()
    ended = time.perf_counter()
    time.sleep(0.2)  # Dovecot's session process exits and is reaped: its time moves to its parent
    return Run(done - logged_in, cpu, logged_in - start, count, octets, ended - start,
               tree_cpu(process.pid) - whole_before)  # fmt: skip


def measure(servers: dict[str, tuple[int, subprocess.Popen]], rounds: int) -> dict[str, Run]:
    """A warm-up session on each server, then ``rounds`` sessions alternating between them.

    Alternating spreads any load from other processes over both; the best round counts.
    """
    runs: dict[str, list[Run]] = {name: [] for name in servers}
    for port, process in servers.values():
        session(port, process)
    for _ in range(rounds):
        for name, (port, process) in servers.items():
            runs[name].append(session(port, process))
    return {
        name: Run(min(r.seconds for r in rs), min(r.cpu for r in rs), min(r.login for r in rs), rs[0].messages,
                  rs[0].octets, min(r.session_seconds for r in rs), min(r.session_cpu for r in rs))
        for name, rs in runs.items()
    }  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of our agent (last size) to FILE")
    args = parser.parse_args()
    if args.profile:
        global PROFILE
        PROFILE = str(Path(args.profile).resolve())
    if not shutil.which("dovecot"):
        raise SystemExit("dovecot not found: apt-get install dovecot-pop3d")
    rows = []
    for count in args.sizes:
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-pop3-{count}-"))
        ours: subprocess.Popen | None = None
        theirs: dovecot.Dovecot | None = None
        try:
            print(f"preparing a {count}-message maildrop in {tmp} ...", flush=True)
            maildir, env = prepare_ours(tmp / "home", count)
            our_port = free_port()
            ours = start_ours(env, our_port)
            theirs = start_dovecot(tmp / "dovecot", maildir)
            assert theirs.process is not None
            result = measure({"ours": (our_port, ours), "dovecot": (theirs.pop3_port, theirs.process)}, args.rounds)
            a, b = result["ours"], result["dovecot"]
            if (a.messages, a.octets) != (b.messages, b.octets):
                print(f"  WARNING: ours sent {a.messages} msgs/{a.octets} B, Dovecot {b.messages} msgs/{b.octets} B")
            rows.append((count, a, b))
        finally:
            if ours is not None:
                stop(ours)
            if theirs is not None:
                theirs.stop(timeout=20)
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"POP3 STAT + UIDL + RETR of every message, one session; best of {args.rounds} alternating rounds;"
          f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'messages':>9} {'MB':>6} | {'ours s':>7} {'dovecot s':>9} {'ratio':>6} | {'ours cpu':>8}"
          f" {'dovecot cpu':>11} {'ratio':>6} | {'us/msg ours/dovecot':>19}"
          f" | {'login ms ours/dovecot':>21}")  # fmt: skip
    for count, a, b in rows:
        print(
            f"{count:>9} {a.octets / 1e6:>6.1f} | {a.seconds:>7.2f} {b.seconds:>9.2f} {b.seconds / a.seconds:>6.2f} |"
            f" {a.cpu:>8.3f} {b.cpu:>11.3f} {b.cpu / max(a.cpu, 1e-6):>6.2f} |"
            f" {a.cpu / a.messages * 1e6:>9.1f} / {b.cpu / b.messages * 1e6:<7.1f} |"
            f" {a.login * 1000:>10.0f} / {b.login * 1000:.0f}"
        )
    print()
    print("The whole session (connect, login, STAT, UIDL, RETR all, QUIT); CPU of every server process, in ticks")
    print(f"{'messages':>9} | {'ours s':>7} {'dovecot s':>9} {'ratio':>6} | {'ours cpu':>8} {'dovecot cpu':>11}"
          f" {'ratio':>6}")  # fmt: skip
    for count, a, b in rows:
        wall, cpu = b.session_seconds / a.session_seconds, b.session_cpu / max(a.session_cpu, 0.01)
        print(f"{count:>9} | {a.session_seconds:>7.2f} {b.session_seconds:>9.2f} {wall:>6.2f} |"
              f" {a.session_cpu:>8.2f} {b.session_cpu:>11.2f} {cpu:>6.2f}")  # fmt: skip
    print("ratio = Dovecot / ours (>= 1.0: we are faster). 's' is wall clock, 'cpu' the server's own CPU seconds")
    print("(steadier on a busy machine; us/msg is that CPU per message, STAT and UIDL included). Login is timed")
    print("apart: ours checks a PBKDF2-SHA256 hash (Django's default, or a cached verified credential), this")
    print("Dovecot a SHA512-CRYPT passwd-file entry (its default).")

if __name__ == "__main__":
    main()
