#!/usr/bin/env python
"""CPU per IMAP command type, in process: the logged-in random mix of ``bench/imapload.py`` without sockets.

    .venv/bin/python bench/imapcpu.py [--users 20] [--sessions 50] [--messages 200] [--ops 20000] [--profile FILE]

Builds ``--users`` mailboxes of ``--messages`` messages in a temporary store (files written into
each INBOX and adopted by the store's rescan, as ``bench/imap.py`` does), opens ``--sessions``
IMAP sessions (``agents.imap.session.Session``, logged in, INBOX selected, users shared round
robin) and runs ``--ops`` random operations of the logged-in mix on random sessions, one after
the other, through the parser and the session as the server runs them (no sockets, no asyncio).
Prints the median and mean CPU time (``time.thread_time``) per operation type and the CPU
seconds per 1,000 operations of the mix: what a command costs us apart from the network and
the event loop, measurable on a busy host. ``--profile FILE`` writes a cProfile (CPU time).
"""

from __future__ import annotations

import argparse
import cProfile
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from imap import make_message  # noqa: E402

from agents.imap.parser import parse_command  # noqa: E402
from agents.imap.session import Session, User  # noqa: E402
from agents.store import Store  # noqa: E402

OPERATIONS = ("select", "flags", "envelopes", "body", "store", "search", "noop")


def command(kind: str, rng: random.Random, messages: int) -> str:
    if kind == "select":
        return "SELECT INBOX"
    if kind == "flags":
        return "FETCH 1:* (FLAGS)"
    if kind == "envelopes":
        return f"FETCH {max(1, messages - 19)}:* (UID ENVELOPE)"
    if kind == "body":
        return f"FETCH {rng.randint(1, messages)} (BODY.PEEK[])"
    if kind == "store":
        return f"STORE {rng.randint(1, messages)} {rng.choice('+-')}FLAGS.SILENT (\\Flagged)"
    if kind == "search":
        return "SEARCH UNSEEN"
    return "NOOP"


def build(root: Path, users: int, messages: int) -> Store:
    store = Store(root)
    rng = random.Random(42)
    for u in range(users):
        inbox = store.mailbox(f"user{u}@cpu.example").path
        for i in range(messages):
            flags = "S" if i < messages * 0.9 else ""
            name = f"{1_700_000_000 + i}.M{i}P{u}.bench:2,{flags}"
            (inbox / "cur" / name).write_bytes(make_message(i, rng))
        store.mailbox(f"user{u}@cpu.example").folder("INBOX")  # the rescan indexes the files
    return store


def run(store: Store, args: argparse.Namespace) -> dict[str, list[float]]:
    sessions = []
    for s in range(args.sessions):
        address = f"user{s % args.users}@cpu.example"
        session = Session(store.mailbox, lambda a, p: User(a), plaintext_login=True)
        for text in (f'A LOGIN "{address}" "x"', "B SELECT INBOX"):
            reply = session.execute(parse_command(text.encode()))
            assert b" OK " in reply.lines[-1], reply.lines[-1]
        sessions.append(session)
    rng = random.Random(1)
    times: dict[str, list[float]] = {kind: [] for kind in OPERATIONS}
    for n in range(args.ops):
        kind = rng.choice(OPERATIONS)
        session = rng.choice(sessions)
        data = f"T{n} {command(kind, rng, args.messages)}".encode()
        started = time.thread_time()
        reply = session.execute(parse_command(data))
        b"".join(reply.lines)  # the server joins the reply for its one write
        times[kind].append(time.thread_time() - started)
        if b" OK " not in reply.lines[-1]:
            raise SystemExit(f"{data!r}: {reply.lines[-1]!r}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--profile", metavar="FILE")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="imapcpu-"))
    try:
        store = build(root, args.users, args.messages)
        profiler = cProfile.Profile(time.thread_time) if args.profile else None
        if profiler:
            profiler.enable()
        times = run(store, args)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        load = Path("/proc/loadavg").read_text().split()[0]
        total = sum(sum(v) for v in times.values())
        count = sum(len(v) for v in times.values())
        print(f"IMAP session CPU per operation (thread time), {args.sessions} sessions on {args.users} users x"
              f" {args.messages} messages, {count} operations, load {load}")
        print(f"{'operation':10} {'count':>6} {'median µs':>10} {'mean µs':>9}")
        for kind, values in times.items():
            if values:
                print(f"{kind:10} {len(values):6} {statistics.median(values) * 1e6:10.0f}"
                      f" {statistics.mean(values) * 1e6:9.0f}")
        print(f"mix: {total * 1000 / max(1, count):.3f} CPU s per 1,000 operations")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
