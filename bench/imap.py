"""IMAP benchmark: our server against Dovecot on the same Maildir, side by side, on loopback.

    .venv/bin/python bench/imap.py [--messages 100000] [--connections 1000] [--runs 5]

Builds N messages into a Maildir, indexes it with our store, hard-links it for a Dovecot
instance of its own (``tests/fakes/dovecot.py``: unprivileged port, own config, SHA512-CRYPT
passwd-file, maildir, login processes serving many connections each), then runs
the same workload against both and prints the median times and the ratio Dovecot/ours
(> 1.0 means we are faster). Finally it opens idle logged-in connections to each and
reports the memory (PSS) per connection. Nothing here is part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.fakes import dovecot  # noqa: E402
from tests.ports import free_port, wait_port  # noqa: E402

USER = "bench@example.com"
PASSWORD = "bench-password"
SENDERS = [f"sender{i}@example{i % 37}.org" for i in range(1000)]


# --- data --------------------------------------------------------------------------------


def make_message(i: int, rng: random.Random) -> bytes:
    sender = SENDERS[rng.randrange(len(SENDERS))]
    body = "".join(f"Line {n} of message {i}: lorem ipsum dolor sit amet, consectetur.\r\n" for n in range(20))
    day = 1 + i % 28
    return (
        f"Return-Path: <{sender}>\r\nReceived: from mx.example.org by bench; Mon, {day} Nov 2025 10:00:00 +0000\r\n"
        f"From: Sender {i % 1000} <{sender}>\r\nTo: Bench <{USER}>\r\nSubject: Message {i} about topic {i % 500}\r\n"
        f"Date: Mon, {day} Nov 2025 10:{i % 60:02d}:00 +0000\r\nMessage-ID: <{i}.bench@example.org>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{body}"
    ).encode()


def build_maildir(path: Path, count: int) -> None:
    rng = random.Random(42)
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    base = 1_700_000_000
    for i in range(count):
        flags = "S" if i < count * 0.9 else ""
        name = f"{base + i}.M{i}P1.bench:2,{flags}"
        (path / "cur" / name).write_bytes(make_message(i, rng).replace(b"\r\n", b"\n"))


# --- servers ------------------------------------------------------------------------------


def serve_ours(root: str, port: int, profile: str | None = None) -> None:
    """Child process: our IMAP server on ``root`` without Django (fixed user); ``profile``: cProfile file."""
    import asyncio
    import signal

    from agents.imap.server import ImapServer, Limits
    from agents.imap.session import User
    from agents.store import Store

    def auth(address: str, password: str) -> User | None:
        return User(USER) if (address, password) == (USER, PASSWORD) else None

    async def main() -> None:
        server = ImapServer(Store(root).mailbox, auth, ssl_context=None, dev_mode=True, limits=Limits())
        await server.start("127.0.0.1", port)
        await asyncio.Event().wait()

    from agents import aioloop  # the loop the agent runs on (manage.py imapd)

    if not profile:
        aioloop.run(main())
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that the profile is written
    profile_commands(profile, lambda: aioloop.run(main()))


def profile_commands(path: str, run: Callable[[], object], clock: Callable[[], float] | None = None) -> None:
    """Call ``run`` under cProfile (on ``clock``; default wall time) and write the profile to ``path`` when it
    returns or raises. IMAP commands run in worker threads, which the main thread's profiler does not see:
    each worker thread gets a profiler of its own, enabled around each command, all merged at the end."""
    from agents.imap.session import Session

    def new_profiler() -> cProfile.Profile:
        return cProfile.Profile(clock) if clock else cProfile.Profile()

    profilers: list[cProfile.Profile] = []
    local = threading.local()
    execute = Session.execute

    def profiled(self: Session, cmd: object) -> object:
        if threading.current_thread() is threading.main_thread():
            return execute(self, cmd)  # type: ignore[arg-type]
        prof = getattr(local, "profiler", None)
        if prof is None:
            prof = local.profiler = new_profiler()
            profilers.append(prof)
        prof.enable()
        try:
            return execute(self, cmd)  # type: ignore[arg-type]
        finally:
            prof.disable()

    Session.execute = profiled  # type: ignore[assignment, method-assign]
    profiler = new_profiler()
    try:
        profiler.runcall(run)
    finally:
        stats = pstats.Stats(profiler)
        for prof in profilers:
            stats.add(prof)
        stats.dump_stats(path)


def start_dovecot(base: Path, maildir: Path) -> dovecot.Dovecot:
    """Dovecot on a hard-linked copy of ``maildir`` (a kept work directory reuses the copy and its index),
    its login processes serving many connections each, its limits raised for ``--connections``."""
    base.parent.chmod(0o755)  # the auth and mail processes run as other users
    server = dovecot.configure(base, {USER: PASSWORD}, protocols="imap", scheme="SHA512-CRYPT",
                               mail={USER: maildir}, keep_mail=True, shared_login=True, many_connections=True)
    server.run(deadline=60)
    return server


# --- client -------------------------------------------------------------------------------


class Client:
    """A minimal client that reads whole responses in big chunks (so the client costs little)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.buf = b""
        self.n = 0
        self._until(b"\r\n")

    def _until(self, marker: bytes) -> bytes:
        while True:
            idx = self.buf.find(marker)
            if idx >= 0:
                end = self.buf.find(b"\r\n", idx + len(marker) - 2 if marker.endswith(b" ") else idx)
                if end >= 0:
                    out, self.buf = self.buf[: end + 2], self.buf[end + 2 :]
                    return out
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def command(self, text: str) -> bytes:
        """Send one command; return the whole response once its tagged line arrived (linear time)."""
        self.n += 1
        tag = f"Z{self.n:05d}".encode()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        buf = bytearray(self.buf)
        marker = b"\r\n" + tag + b" "
        pos = 0
        while True:
            idx = 0 if buf.startswith(tag + b" ") else buf.find(marker, pos)
            if idx >= 0:
                end = buf.find(b"\r\n", idx + 2)
                if end >= 0:
                    data, self.buf = bytes(buf[: end + 2]), bytes(buf[end + 2 :])
                    if b" OK" not in data[idx : idx + len(marker) + 4]:
                        raise RuntimeError(data[idx:].decode(errors="replace"))
                    return data
            pos = max(0, len(buf) - len(marker))
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk

    def close(self) -> None:
        try:
            self.sock.sendall(b"Z LOGOUT\r\n")
        finally:
            self.sock.close()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the given processes (robust on a busy host, unlike wall time)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def workload(port: int, count: int, runs: int, root_pid: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall time and mean server CPU time per operation."""
    client = Client(port)
    client.command(f'LOGIN "{USER}" "{PASSWORD}"')
    client.command("SELECT INBOX")  # warm-up: each server builds or loads its index
    client.command("UID FETCH 1:* (FLAGS)")
    client.command('SEARCH FROM "sender17@"')
    times: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    server = descendants(root_pid)  # Dovecot: master, login and this session's imap process
    first = max(1, count - 49)
    ops = [
        ("SELECT INBOX", "SELECT INBOX"),
        ("UID FETCH 1:* (FLAGS)", "UID FETCH 1:* (FLAGS)"),
        ("FETCH newest 50 ENVELOPE", f"FETCH {first}:* (UID FLAGS ENVELOPE)"),
        ('SEARCH FROM "sender17@"', 'SEARCH FROM "sender17@"'),
        ('SEARCH SUBJECT "topic 42"', 'SEARCH SUBJECT "topic 42"'),
    ]
    for _ in range(runs):
        for label, text in ops:
            cpu_before = cpu_seconds(server)
            started = time.perf_counter()
            data = client.command(text)
            times.setdefault(label, []).append(time.perf_counter() - started)
            cpu.setdefault(label, []).append(cpu_seconds(server) - cpu_before)
            if label.startswith("SELECT"):
                assert b"* %d EXISTS" % count in data, "SELECT did not see every message"
            if label.startswith("UID FETCH"):
                assert data.count(b" FETCH ") >= count, "not every message was fetched"
    client.close()
    # CPU time is counted in clock ticks (10 ms): the mean over the runs resolves less than a tick.
    return ({label: statistics.median(values) for label, values in times.items()},
            {label: statistics.mean(values) for label, values in cpu.items()})


def pss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (one ``ps`` call)."""
    children: dict[int, list[int]] = {}
    for line in subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.splitlines():
        child, parent = (int(x) for x in line.split())
        children.setdefault(parent, []).append(child)
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def idle_memory(port: int, root_pid: int, connections: int, select: bool = False) -> float:
    """KiB of PSS added per idle, logged-in connection (with INBOX selected if ``select``)."""
    before = pss_kib(descendants(root_pid))
    clients = []
    for _ in range(connections):
        c = Client(port)
        c.command(f'LOGIN "{USER}" "{PASSWORD}"')
        if select:
            c.command("SELECT INBOX")
        clients.append(c)
    time.sleep(1.0)
    after = pss_kib(descendants(root_pid))
    for c in clients:
        c.sock.close()
    return (after - before) / connections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--selected", type=int, default=100, help="idle connections with INBOX selected")
    parser.add_argument("--workdir", type=Path, help="keep the data here and reuse it on the next run")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of our server to FILE")
    parser.add_argument("--serve", nargs=2, metavar=("ROOT", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_ours(args.serve[0], int(args.serve[1]), args.profile)
        return
    base = args.workdir.resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="imapbench-"))
    reuse = (base / "source" / "cur").exists() and len(os.listdir(base / "source" / "cur")) == args.messages
    ours: subprocess.Popen | None = None
    theirs: dovecot.Dovecot | None = None
    try:
        source = base / "source"
        from agents.store import Store

        ours_root = base / "ours"
        if not reuse:
            shutil.rmtree(base / "source", ignore_errors=True)
            shutil.rmtree(base / "ours", ignore_errors=True)
            shutil.rmtree(base / "dovecot", ignore_errors=True)
            print(f"building {args.messages} messages in {base} ...", flush=True)
            started = time.perf_counter()
            build_maildir(source, args.messages)
            print(f"  maildir written in {time.perf_counter() - started:.1f}s", flush=True)
            inbox_dir = Store(ours_root).mailbox(USER).path
            for name in os.listdir(source / "cur"):
                os.link(source / "cur" / name, inbox_dir / "cur" / name)
        mailbox = Store(ours_root).mailbox(USER)
        started = time.perf_counter()
        folder = mailbox.folder("INBOX")
        print(f"  our index ready in {time.perf_counter() - started:.1f}s ({folder.exists} messages)", flush=True)

        ours_port = free_port()
        profile = ["--profile", str(Path(args.profile).resolve())] if args.profile else []
        ours = subprocess.Popen([sys.executable, __file__, "--serve", str(ours_root), str(ours_port), *profile])
        wait_port(ours_port, ours)
        theirs = start_dovecot(base / "dovecot", source)
        assert theirs.process is not None
        servers = (("dovecot", theirs.imap_port, theirs.process.pid), ("ours", ours_port, ours.pid))

        results, cpus = {}, {}
        for name, port, pid in servers:
            print(f"running workload against {name} ...", flush=True)
            results[name], cpus[name] = workload(port, args.messages, args.runs, pid)
        print(f"\nIMAP, {args.messages} messages in INBOX, median of {args.runs} runs (seconds; cpu: mean);"
              " ratio = dovecot / ours, > 1 means we are faster")
        print(f"{'operation':30} {'dovecot':>9} {'ours':>9} {'ratio':>6} |"
              f" {'cpu dovecot':>11} {'cpu ours':>9} {'ratio':>6}")
        for label in results["ours"]:
            d, o = results["dovecot"][label], results["ours"][label]
            cd, co = cpus["dovecot"][label], cpus["ours"][label]
            cpu_ratio = f"{cd / co:6.2f}" if co else "   n/a"
            print(f"{label:30} {d:9.4f} {o:9.4f} {d / o:6.2f} | {cd:11.3f} {co:9.3f} {cpu_ratio}")

        if args.connections:
            print(f"\nmemory per idle logged-in connection ({args.connections} connections, PSS):")
            for name, port, pid in servers:
                kib = idle_memory(port, pid, args.connections)
                print(f"  {name:8} {kib:8.1f} KiB")
        if args.selected:
            print(f"\nmemory per idle connection with INBOX selected ({args.selected} connections, PSS):")
            for name, port, pid in servers:
                kib = idle_memory(port, pid, args.selected, select=True)
                print(f"  {name:8} {kib:8.1f} KiB")
    finally:
        if ours is not None:
            ours.terminate()
            try:
                ours.wait(10)
            except subprocess.TimeoutExpired:
                ours.kill()
        if theirs is not None:
            theirs.stop()
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
