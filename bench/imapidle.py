#!/usr/bin/env python
"""IMAP with many idle connections held: a new login's latency, idle memory and idle CPU, ours and Dovecot.

    .venv/bin/python bench/imapidle.py [--connections 1000] [--idle-every 4] [--logins 200] [--users 50]

Sets up the same two servers as ``bench/imapload.py`` (our ``manage.py imapd`` on a fresh
MAILAPP_HOME; Dovecot 2.3 with SHA512-CRYPT on a hard-linked copy of the Maildirs, its process
and client limits raised for this many connections), logs every user in once (our first login of
a user pays the full password hash; after it the verified-credential cache answers), then, for
each server in turn:
  1. opens ``--connections`` connections (20 at a time), each logged in with INBOX selected, every
     ``--idle-every``-th of them in IDLE (as mail clients keep their INBOX connection);
  2. reports the memory they added (PSS of the server's processes, per connection) and the server's
     CPU while they sit idle (CPU seconds per second, over ``--idle-seconds``);
  3. while they are held, makes ``--logins`` new logins one after the other (connect, greeting,
     LOGIN, tagged OK: what a mail client waits for) and reports their latency, median / p99 / max
     (issue 17's target: a new login answered in under 100 ms);
  4. checks every held connection still answers (DONE to the IDLE ones, NOOP to the others) and
     reports the slowest of those replies.
The bench raises its own RLIMIT_NOFILE to the hard limit (the servers inherit it). Every loop is
bounded by count and time; only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from imap import descendants, pss_kib  # noqa: E402
from imapload import (  # noqa: E402
    Conn,
    load_average,
    password,
    percentile,
    server_cpu,
    side_by_side,
    user,
    warm_up,
)

OPEN_PARALLEL = 20
DEADLINE = 600.0  # seconds: the whole hold-and-measure phase of one server ends by then, whatever happens


async def open_idle(port: int, count: int, users: int, idle_every: int) -> list[tuple[Conn, bool]]:
    """``count`` logged-in connections with INBOX selected; every ``idle_every``-th in IDLE."""
    held: list[tuple[Conn, bool]] = []
    indexes = list(range(count))

    async def worker() -> None:
        while indexes:
            i = indexes.pop()
            conn = await Conn.open(port)
            who = i % users
            await conn.command(f'LOGIN "{user(who)}" "{password(who)}"')
            await conn.command("SELECT INBOX")
            idling = idle_every > 0 and i % idle_every == 0
            if idling:
                conn.n += 1
                conn.writer.write(b"L%d IDLE\r\n" % conn.n)
                line = await conn.reader.readline()
                while line and not line.startswith(b"+"):
                    line = await conn.reader.readline()
                if not line:
                    raise ConnectionError("closed before IDLE began")
            held.append((conn, idling))

    await asyncio.gather(*(worker() for _ in range(OPEN_PARALLEL)))
    return held


async def new_logins(port: int, count: int, users: int) -> list[float]:
    """Seconds from connect to the tagged OK of LOGIN, for ``count`` new logins one after the other."""
    out = []
    for i in range(count):
        started = time.perf_counter()
        conn = await Conn.open(port)
        who = (i * 7) % users
        await conn.command(f'LOGIN "{user(who)}" "{password(who)}"')
        out.append(time.perf_counter() - started)
        await conn.close()
    return out


async def still_answering(held: list[tuple[Conn, bool]]) -> float:
    """End IDLE (DONE) or send NOOP on every held connection; the slowest reply in seconds."""

    async def one(conn: Conn, idling: bool) -> float:
        started = time.perf_counter()
        if idling:
            tag = b"L%d " % conn.n
            conn.writer.write(b"DONE\r\n")
            while True:
                line = await conn.reader.readline()
                if not line:
                    raise ConnectionError("closed in IDLE")
                if line.startswith(tag):
                    break
        else:
            await conn.command("NOOP")
        return time.perf_counter() - started

    times = await asyncio.gather(*(one(conn, idling) for conn, idling in held))
    return max(times, default=0.0)


async def measure(name: str, port: int, pid: int, args: argparse.Namespace) -> dict[str, object]:
    pss_before = pss_kib(descendants(pid))
    started = time.perf_counter()
    held = await open_idle(port, args.connections, args.users, args.idle_every)
    opened = time.perf_counter() - started
    await asyncio.sleep(2.0)  # Dovecot's login processes hand over and exit
    pss_after = pss_kib(descendants(pid))
    cpu = server_cpu(pid)
    await asyncio.sleep(args.idle_seconds)
    idle_cpu = (server_cpu(pid) - cpu) / args.idle_seconds
    logins = await new_logins(port, args.logins, args.users)
    slowest = await still_answering(held)
    for conn, _idling in held:
        conn.writer.close()
    result = {
        "opened": opened, "kib": (pss_after - pss_before) / max(1, len(held)), "idle_cpu": idle_cpu,
        "p50": statistics.median(logins), "p99": percentile(logins, 0.99), "max": max(logins),
        "held": len(held), "slowest": slowest, "load": load_average(),
    }
    print(f"  {name}: {len(held)} held (opened in {opened:.1f} s), login p50 {result['p50'] * 1000:.1f} ms,"
          f" p99 {result['p99'] * 1000:.1f} ms", flush=True)
    await asyncio.sleep(2.0)  # the closed connections go away before the next server is measured
    return result


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--idle-every", type=int, default=4, help="every n-th held connection is in IDLE (0: none)")
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--workdir", type=Path, help="keep the data here and reuse it on the next run")
    args = parser.parse_args()
    raise_nofile()
    needed = 2 * args.connections + 200  # both ends of every connection live here and in the servers
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < needed:
        raise SystemExit(f"RLIMIT_NOFILE below {needed}: raise the hard limit (ulimit -Hn)")
    with side_by_side(args.workdir, "imapidle-", args.users, args.messages) as (ours, theirs):
        ours.start()
        theirs.run(deadline=60)
        assert theirs.process is not None and ours.proc is not None
        results = {}
        for name, port, pid in (("dovecot", theirs.imap_port, theirs.process.pid), ("ours", ours.port, ours.proc.pid)):
            took = asyncio.run(warm_up(port, args.users))
            print(f"  first login of {args.users} users (10 at a time), {name}: {took:.1f} s", flush=True)
            results[name] = asyncio.run(asyncio.wait_for(measure(name, port, pid, args), DEADLINE))
        print(f"\nIMAP, {args.connections} idle connections held (logged in, INBOX selected, every"
              f" {args.idle_every}th in IDLE), {args.logins} new logins one after the other meanwhile;"
              " load = 1-min load average after the run")
        print(f"{'server':8} {'held':>5} {'KiB/conn':>9} {'idle cpu':>9} {'login p50':>10} {'login p99':>10}"
              f" {'login max':>10} {'target':>7} {'held reply max':>15} {'load':>5}")
        for name, res in results.items():
            met = "met" if float(res["p99"]) < 0.1 else "MISSED"  # type: ignore[arg-type]
            print(f"{name:8} {res['held']:5} {res['kib']:9.1f} {res['idle_cpu']:8.3f}s {res['p50'] * 1000:8.1f}ms"  # type: ignore[operator]
                  f" {res['p99'] * 1000:8.1f}ms {res['max'] * 1000:8.1f}ms {met:>7}"  # type: ignore[operator]
                  f" {res['slowest'] * 1000:13.1f}ms {res['load']:>5}")  # type: ignore[operator]
        print("(idle cpu: the server's CPU seconds per second while the connections sit idle;"
              " target: login p99 under 100 ms)")


if __name__ == "__main__":
    main()
