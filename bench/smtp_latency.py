#!/usr/bin/env python
"""SMTP latency under many sessions: the time from the end of DATA to our "250", at 200 sessions.

    .venv/bin/python bench/smtp_latency.py [--sessions 200] [--messages 5] [--size 4096]

Starts our MX port (``manage.py smtpd``) and a Celery worker on a fresh MAILAPP_HOME exactly as
``bench/smtp.py`` does, then opens ``--sessions`` concurrent SMTP sessions on loopback; each sends
``--messages`` messages of ``--size`` bytes to one mailbox, one transaction after another. For each
message it times the span between writing the final ``.`` and reading the ``250`` (what the group
commit costs a client: file, directory and queue row durable). Prints p50, p95, p99 and the maximum,
with the load average. The loop is bounded by the message count and a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smtp import RECIPIENT, SENDER, Ours  # noqa: E402

DEADLINE = 300.0  # seconds for the whole load


async def session(port: int, messages: int, body: bytes, spans: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> bytes:
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("closed")
            if line[3:4] != b"-":
                return line

    try:
        await reply()
        writer.write(b"EHLO latency.bench\r\n")
        await reply()
        for _ in range(messages):
            writer.write(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RECIPIENT}>\r\nDATA\r\n".encode())
            for _ in range(3):
                code = await reply()
                if code[:1] not in (b"2", b"3"):
                    errors.append(code.decode(errors="replace").strip())
                    return
            writer.write(body)
            started = time.perf_counter()
            writer.write(b".\r\n")
            done = await reply()
            spans.append(time.perf_counter() - started)
            if not done.startswith(b"250"):
                errors.append(done.decode(errors="replace").strip())
        writer.write(b"QUIT\r\n")
        await reply()
    finally:
        writer.close()


async def load(port: int, sessions: int, messages: int, size: int) -> tuple[list[float], list[str], float]:
    line = b"X" * 76 + b"\r\n"
    body = b"Subject: latency\r\n\r\n" + line * max(1, size // len(line))
    spans: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(session(port, messages, body, spans, errors) for _ in range(sessions))), DEADLINE)
    return spans, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5, help="messages per session")
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="smtp-latency-"))
    ours = Ours(root)
    ours.env["MAILAPP_SMTP_MAX_SESSIONS_PER_IP"] = str(args.sessions + 10)
    try:
        ours.setup()
        ours.start(None, 2)
        spans, errors, elapsed = asyncio.run(load(ours.port, args.sessions, args.messages, args.size))
    finally:
        ours.stop()
        shutil.rmtree(root, ignore_errors=True)
    spans.sort()
    pick = lambda q: spans[min(len(spans) - 1, int(len(spans) * q))] * 1000  # noqa: E731
    load_avg = Path("/proc/loadavg").read_text().split()[0]
    print(f"{args.sessions} sessions x {args.messages} messages of {args.size} bytes: {len(spans)} answered"
          f" in {elapsed:.1f} s ({len(spans) / elapsed:.0f} msg/s), {len(errors)} errors, load {load_avg}")
    if spans:
        print(f"end of DATA -> 250: p50 {pick(0.5):.0f} ms, p95 {pick(0.95):.0f} ms, p99 {pick(0.99):.0f} ms,"
              f" max {spans[-1] * 1000:.0f} ms, mean {statistics.mean(spans) * 1000:.0f} ms")
    for error in sorted(set(errors))[:5]:
        print("  error:", error)


if __name__ == "__main__":
    main()
