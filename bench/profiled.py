#!/usr/bin/env python
"""Run a program under cProfile, every thread included, on a CPU-time clock.

    .venv/bin/python bench/profiled.py OUT.prof manage.py smtpd --workers 1
    .venv/bin/python bench/profiled.py OUT.prof -m celery -A mailappliance worker --pool=solo
    .venv/bin/python bench/profiled.py --summary OUT.prof [--messages N]

The first forms run the program as ``python ARGS`` would, with one profiler per thread
(``time.thread_time``: CPU seconds of that thread, so time spent waiting — for fsync, the
network, a lock, another process on a shared machine — is not counted), and write the
merged profile to OUT.prof when the program exits (SIGTERM included). ``--summary`` prints
where the CPU went: by area (our SMTP code, aiosmtpd, the queue, Django's ORM, SQLite, the
event loop ...) and the top functions, per message if ``--messages`` is given.
``bench/smtp.py --profile DIR`` runs our smtp agent and Celery worker this way.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import runpy
import signal
import sys
import threading
import time

# (label, substring of the code's file name); the first that matches counts a function's own time.
AREAS = [
    ("smtp agent (agents/smtp)", "agents/smtp/"),
    ("queue: submit, group commit, spool (agents/queue)", "agents/queue/"),
    ("delivery (agents/delivery)", "agents/delivery/"),
    ("store (agents/store)", "agents/store/"),
    ("mail checks (agents/mailauth)", "agents/mailauth/"),
    ("configuration look-ups (agents/config)", "agents/config/"),
    ("other agents code", "/agents/"),
    ("aiosmtpd", "aiosmtpd/"),
    ("Django ORM", "django/db/"),
    ("Django, other", "django/"),
    ("Celery, kombu, billiard", ("celery/", "kombu/", "billiard/")),
    ("SQLite, PostgreSQL drivers", ("sqlite3", "psycopg")),
    ("asyncio, uvloop", ("asyncio/", "uvloop")),
    ("email parsing (stdlib)", "email/"),
    ("threads, queues, locks (stdlib)", ("threading.py", "queue.py", "concurrent/")),
]


def area(filename: str) -> str:
    for label, marks in AREAS:
        for mark in (marks,) if isinstance(marks, str) else marks:
            if mark in filename:
                return label
    if filename == "~":
        return "built-ins (I/O calls, hashing, bytes, re)"
    return "other"


# Calls that wait (a thread pool's idle workers, locks). On this clock they should cost nothing,
# yet in processes with many pool threads cProfile has charged seconds to them that /proc's CPU
# figures do not show: the summary leaves them out and says how much it left out.
WAITS = ("<method 'get' of '_queue.SimpleQueue' objects>", "<method 'acquire' of '_thread.lock' objects>",
         "<built-in method time.sleep>")


def summary(path: str, messages: int | None, top: int = 25) -> None:
    stats = pstats.Stats(path)
    raw = dict(stats.stats)  # type: ignore[attr-defined]
    waits = [key for key in raw if key[0] == "~" and key[2] in WAITS]
    waited = sum(raw.pop(key)[2] for key in waits)
    total = sum(entry[2] for entry in raw.values())
    by_area: collections.Counter[str] = collections.Counter()
    for (filename, _line, _name), entry in raw.items():
        by_area[area(filename)] += entry[2]
    per = 1000.0 / messages if messages else 1.0
    unit = "CPU ms per message" if messages else "CPU s"
    scale = per if messages else 1.0
    print(f"{path}: {total:.2f} CPU s in all" + (f", {total * per:.2f} ms per message" if messages else "")
          + f" (left out: {waited:.2f} s charged to waits)")
    print(f"{'area':<52} {unit:>20} {'share':>6}")
    for label, seconds in by_area.most_common():
        print(f"{label:<52} {seconds * scale:>20.3f} {seconds / total:>6.1%}")
    print(f"\ntop {top} functions by own time:")
    rows = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    for (filename, line, name), entry in rows:
        short = "/".join(filename.split("/")[-2:])
        print(f"{entry[2] * scale:>9.3f} {entry[2] / total:>6.1%}  {short}:{line}({name})  calls {entry[1]}")


def run(out: str, argv: list[str]) -> int:
    profilers: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_thread(frame: object, event: str, arg: object) -> None:
        profiler = cProfile.Profile(time.thread_time)
        with lock:
            profilers.append(profiler)
        profiler.enable()  # replaces this hook for the rest of the thread

    threading.setprofile(start_thread)
    main = cProfile.Profile(time.thread_time)
    profilers.append(main)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that the profile is written
    code = 0
    sys.argv = argv[2:] if argv[0] == "-m" else argv
    try:
        main.enable()
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    finally:
        main.disable()
        threading.setprofile(None)  # type: ignore[arg-type]
        with lock:
            stats = pstats.Stats(profilers[0])
            for profiler in profilers[1:]:
                try:
                    stats.add(profiler)
                except TypeError:  # a thread's profiler that never recorded anything
                    pass
        stats.dump_stats(out)
    return code


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--summary":
        parser = argparse.ArgumentParser()
        parser.add_argument("--summary", required=True)
        parser.add_argument("--messages", type=int, default=None)
        parser.add_argument("--top", type=int, default=25)
        args = parser.parse_args()
        summary(args.summary, args.messages, args.top)
        return 0
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    return run(sys.argv[1], sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
