#!/usr/bin/env python
"""One SMTP session, step by step: where a single client's time goes, ours against Postfix.

    .venv/bin/python bench/smtp_steps.py [--blocks 5] [--per-block 200] [--no-worker | --worker-nice 10]

Sets up the same two servers as ``bench/smtp.py`` (our smtp agent and Celery worker on a fresh
MAILAPP_HOME with SQLite; Postfix with its own queue), then runs sessions one after the other
the way ``smtp-source`` does (connect, HELO, MAIL, RCPT, DATA, a 4 KiB body, QUIT; a new
connection each), alternating blocks of ``--per-block`` sessions between the two servers. It
prints the median time of each step and, for the whole session and for "body to 250", the mean
and the tail: at one session the accept rate is the mean, so a tail of slow commits costs as
much as the median. ``--no-worker`` leaves our worker stopped (Postfix still delivers), to show
what delivery beside reception costs reception; ``--worker-nice N`` runs the worker at a lower CPU
priority (to tell CPU contention from I/O and lock contention). Every loop is bounded; only
127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import smtp as servers  # noqa: E402  (bench/smtp.py: the same set-up of both servers)

STEPS = ["connect + banner", "HELO", "MAIL", "RCPT", "DATA", "body -> 250", "QUIT"]
BODY = (f"From: <{servers.SENDER}>\r\nTo: <{servers.RECIPIENT}>\r\nSubject: steps\r\n\r\n".encode()
        + (b"x" * 76 + b"\r\n") * 52 + b".\r\n")


def session(port: int) -> list[float]:
    """Seconds spent in each of STEPS (raises on any reply but 2xx/3xx)."""
    marks = [time.perf_counter()]
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock, sock.makefile("rb") as replies:
        def reply() -> bytes:
            while True:
                line = replies.readline()
                if line[3:4] != b"-":
                    return line

        reply()
        marks.append(time.perf_counter())
        for command in (b"HELO bench.client\r\n", f"MAIL FROM:<{servers.SENDER}>\r\n".encode(),
                        f"RCPT TO:<{servers.RECIPIENT}>\r\n".encode(), b"DATA\r\n", BODY, b"QUIT\r\n"):
            sock.sendall(command)
            answer = reply()
            marks.append(time.perf_counter())
            if answer[:1] not in (b"2", b"3"):
                raise RuntimeError(f"port {port} answered {answer!r}")
    return [later - earlier for earlier, later in zip(marks, marks[1:], strict=False)]


def tail(values: list[float]) -> str:
    ordered = sorted(values)
    at = lambda share: ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000  # noqa: E731
    return (f"mean {statistics.mean(values) * 1000:6.3f}  p50 {at(0.5):6.3f}  p90 {at(0.9):6.3f}  "
            f"p99 {at(0.99):6.3f}  max {ordered[-1] * 1000:6.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=5, help="alternating blocks per server (default 5)")
    parser.add_argument("--per-block", type=int, default=200, help="sessions per block (default 200)")
    parser.add_argument("--no-worker", action="store_true", help="do not run our Celery worker")
    parser.add_argument("--worker-nice", type=int, default=0, help="run our worker at this nice level")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-smtp-steps-"))
    ours, postfix = servers.Ours(root), servers.Postfix(root)
    try:
        ours.setup()
        postfix.setup()
        if args.no_worker:
            ours.start_smtpd()
            ours.worker = subprocess.Popen(["sleep", "3600"], start_new_session=True)  # stopped with the rest
        else:
            ours.start(None, 2)
            if args.worker_nice:
                time.sleep(3)  # the pool forked
                for pid in subprocess.run(["pgrep", "-s", str(ours.worker.pid)], capture_output=True,
                                          text=True).stdout.split():
                    os.setpriority(os.PRIO_PROCESS, int(pid), args.worker_nice)
        postfix.start()
        timings: dict[str, list[list[float]]] = {"ours": [], "postfix": []}
        for port in (ours.port, postfix.port):  # warm both (first connections, look-ups, caches)
            for _ in range(min(100, args.per_block)):
                session(port)
        for _ in range(args.blocks):
            timings["ours"] += [session(ours.port) for _ in range(args.per_block)]
            timings["postfix"] += [session(postfix.port) for _ in range(args.per_block)]
        print(f"{args.blocks} x {args.per_block} sessions each, alternating blocks; our worker "
              f"{'stopped' if args.no_worker else 'delivering'}; load average {os.getloadavg()[0]:.2f}; ms")
        print(f"{'step (median)':>18} {'ours':>8} {'postfix':>8}")
        for n, name in enumerate(STEPS):
            print(f"{name:>18} {statistics.median(t[n] for t in timings['ours']) * 1000:8.3f} "
                  f"{statistics.median(t[n] for t in timings['postfix']) * 1000:8.3f}")
        for who, sessions in timings.items():
            print(f"{who:>8} session      {tail([sum(t) for t in sessions])}")
            print(f"{who:>8} body -> 250  {tail([t[5] for t in sessions])}")
    finally:
        ours.stop()
        postfix.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
