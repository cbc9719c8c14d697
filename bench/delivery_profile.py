#!/usr/bin/env python
"""Where one message's local delivery goes: CPU time and fsyncs per stage, from submit to Maildir + "delivered".

    .venv/bin/python bench/delivery_profile.py [--messages 300] [--mailboxes 1] [--batch 50] [--warm] [--text]
                                               [--no-fulltext] [--inline] [--plain]
    strace -f -qq -e trace=fsync,fdatasync,access -o trace.txt .venv/bin/python bench/delivery_profile.py ...
    .venv/bin/python bench/delivery_profile.py --count-fsyncs trace.txt

In a fresh MAILAPP_HOME (SQLite, migrated; mailboxes user0..N@example.com) it submits
``--messages`` 4 KiB messages (spool file + queue rows, as the SMTP agent does, and the
hand-off to the file-system broker), then delivers them in this process, one
``runner.run_batch`` of ``--batch`` messages (1: one run per message, as before batching), under cProfile with
a CPU-time clock (the figures hold on a loaded machine; fsync waits are not CPU time).
Prints per stage the CPU milliseconds per message and the share of the delivery run.
``--inline`` runs the mailboxes' group commits in the profiled thread (otherwise, with several
mailboxes, they run on ``agents.store.commits``' threads, which cProfile does not see; their CPU
is then in "the rest"). ``--plain`` runs without the profiler and prints the process's CPU time
(user and system, all threads) per message: the figure to compare between two versions.
``PROFILE_TOP=N`` prints the top functions (``PROFILE_SORT``: cumulative by default),
``PROFILE_OUT=FILE`` writes the profile.

Fsyncs are counted by strace: the script calls ``access()`` on marker paths between the
phases, and ``--count-fsyncs`` reads a trace and counts fsync/fdatasync calls per phase.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARK = "/mailapp-profile-mark-"

# (label, module file suffix, function name): cumulative time of these functions, per message.
STAGES = [
    ("claim (one transaction per run)", "delivery/claim.py", "claim_batch"),
    ("spool read", "queue/spool.py", "read"),
    ("spool read (one query per batch)", "queue/spool.py", "read_many"),
    ("alias expansion (agents.config)", "agents/config", "expand"),
    ("filters + mailbox lookup", "delivery/filters.py", "evaluate"),
    ("store: open the mailbox", "store/mailbox.py", "__init__"),
    ("store: quota (usage)", "store/mailbox.py", "usage"),
    ("store: deliver_many (group commit)", "store/mailbox.py", "deliver_many"),
    ("  of which MIME summary", "store/mime.py", "summarize"),
    ("  of which tmp file write+fsync", "store/maildir.py", "write_tmp"),
    ("  of which full-text index", "store/fulltext.py", "add"),
    ("record outcomes (_finish_many)", "delivery/runner.py", "_finish_many"),
    ("  of which spool remove", "queue/spool.py", "remove_many"),
]


def mark(phase: str) -> None:
    os.access(MARK + phase, os.F_OK)


def count_fsyncs(trace: Path, messages: int) -> None:
    phase = "setup"
    counts: collections.Counter[str] = collections.Counter()
    for line in trace.read_text(errors="replace").splitlines():
        if MARK in line:
            phase = line.split(MARK, 1)[1].split('"', 1)[0]
        elif "fsync(" in line or "fdatasync(" in line:
            counts[phase] += 1
    for name in ("submit", "enqueue", "deliver"):
        print(f"{name:<10} {counts[name]:>7} fsyncs  {counts[name] / messages:6.2f} per message")


def sample(i: int, size: int, words: list[str] | None = None) -> bytes:
    """A message of about ``size`` bytes: lines of x, or (``words``) text drawn from a Zipf-like vocabulary."""
    head = (f"From: Sender <bench@remote.test>\r\nTo: user@example.com\r\nSubject: bench {i}\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{i}@bench.remote.test>\r\n\r\n")
    if words is None:
        return (head + ("x" * 76 + "\r\n") * (size // 78)).encode()
    rng = random.Random(i)
    text = " ".join(rng.choices(words, [1 / (rank + 1) for rank in range(len(words))], k=size // 8))
    lines = [text[n : n + 76] for n in range(0, len(text), 76)]
    return (head + "\r\n".join(lines) + "\r\n").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--mailboxes", type=int, default=1, help="recipients round-robin over this many mailboxes")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=1, help="messages per delivery run (default 1: one run each)")
    parser.add_argument("--warm", action="store_true",
                        help="deliver one message to each mailbox before measuring (warm caches, as a long-running "
                             "worker has them)")
    parser.add_argument("--count-fsyncs", type=Path, help="read an strace log of an earlier run and count fsyncs")
    parser.add_argument("--wall", action="store_true", help="profile wall-clock time instead of CPU time")
    parser.add_argument("--text", action="store_true", help="bodies of words (as bench/search.py) instead of x lines")
    parser.add_argument("--inline", action="store_true",
                        help="run the mailboxes' group commits in this thread (so cProfile sees them) instead of "
                             "on agents.store.commits' threads")
    parser.add_argument("--plain", action="store_true",
                        help="no profiler: only the process's CPU time (user + system, every thread) per message")
    parser.add_argument("--no-fulltext", action="store_true",
                        help="skip the full-text index at delivery (to measure what it costs)")
    args = parser.parse_args()
    if args.count_fsyncs:
        count_fsyncs(args.count_fsyncs, args.messages)
        return 0
    home = Path(tempfile.mkdtemp(prefix="delivery-profile-"))
    os.environ.update(MAILAPP_HOME=str(home), DJANGO_SETTINGS_MODULE="mailappliance.settings", MAILAPP_MAILAUTH="0",
                      MAILAPP_LOG_LEVEL="WARNING", CELERY_BROKER_URL="filesystem://localhost//")
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.no_fulltext:
        from agents.store import fulltext

        fulltext.add = lambda *a, **k: None  # type: ignore[assignment]  # the cost of indexing, measured by its absence
    if args.inline:
        from agents.store import commits

        commits.per_mailbox = lambda jobs: [commits._call(job) for _, job in jobs]  # type: ignore[assignment]
    words = None
    if args.text:
        rng = random.Random(7)
        letters = "abcdefghijklmnopqrstuvwxyzäöüé"
        words = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(20_000)]
    from agents.delivery import runner
    from agents.queue import Envelope, enqueue_delivery, submit
    from webadmin import services

    services.create_domain("example.com", "admin@example.com")
    boxes = [f"user{n}@example.com" for n in range(args.mailboxes)]
    from agents.store import default_store

    for box in boxes:
        services.create_mailbox(box, None)
        default_store().mailbox(box)  # its Maildir and index made now: steady state is measured, not first use
    if args.warm:  # one message per mailbox delivered first: the worker's caches as in a long run
        warm = [submit(sample(-1 - n, args.size, words), Envelope(sender="bench@remote.test", recipients=[box]),
                       enqueue=False) for n, box in enumerate(boxes)]
        runner.run_batch(warm[0], args.batch)
        runner.run_due()
    ids = []
    mark("submit")
    for i in range(args.messages):
        envelope = Envelope(sender="bench@remote.test", recipients=[boxes[i % len(boxes)]])
        ids.append(submit(sample(i, args.size, words), envelope, enqueue=False))
    mark("enqueue")
    for queue_id in ids:
        enqueue_delivery(queue_id)
    mark("deliver")
    timer = time.perf_counter if args.wall else time.process_time
    results: dict[str, str] = {}
    profile = cProfile.Profile(timer)
    started = timer()
    if args.plain:  # the run as a worker does it: no profiler overhead, threads included
        before = os.times()
        results = {}
        for queue_id in ids:
            if queue_id not in results:
                results.update(runner.run_batch(queue_id, args.batch))
        total = timer() - started
        after = os.times()
        assert sum(1 for r in results.values() if r == "done") == args.messages
        user, system = ((after[i] - before[i]) / args.messages * 1000 for i in (0, 1))
        print(f"{args.messages} messages to {args.mailboxes} mailbox(es), {args.batch} per run: "
              f"{total / args.messages * 1000:.2f} ms CPU per message (user {user:.2f}, system {system:.2f}), "
              f"no profiler")
        return 0
    profile.enable()
    results = {}
    for queue_id in ids:
        if queue_id not in results:
            results.update(runner.run_batch(queue_id, args.batch))
    profile.disable()
    total = timer() - started
    mark("end")
    done = sum(1 for r in results.values() if r == "done")
    assert done == args.messages, collections.Counter(results.values())
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    clock = "wall" if args.wall else "CPU"
    print(f"{args.messages} messages to {args.mailboxes} mailbox(es), "
          f"{args.batch} per run: {total / args.messages * 1000:.2f} ms {clock} "
          f"per message (cProfile adds overhead; compare runs with each other)")
    print(f"{'stage':<36} {'ms/msg':>7} {'share':>6}")
    listed = 0.0
    for label, suffix, name in STAGES:
        spent = sum(v[3] for (path, _line, func), v in stats.items() if suffix in path and func == name)
        if spent:
            print(f"{label:<36} {spent / args.messages * 1000:>7.2f} {spent / total:>6.0%}")
            listed += 0 if label.startswith(" ") else spent
    rest = total - listed
    print(f"{'the rest (rows, parsing, lookups)':<36} {rest / args.messages * 1000:>7.2f} {rest / total:>6.0%}")
    if os.environ.get("PROFILE_TOP"):
        pstats.Stats(profile).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            int(os.environ["PROFILE_TOP"]))
    if os.environ.get("PROFILE_OUT"):
        profile.dump_stats(os.environ["PROFILE_OUT"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
