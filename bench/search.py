#!/usr/bin/env python
"""SEARCH TEXT/BODY on a big mailbox: the full-text index against the old per-message scan.

    .venv/bin/python bench/search.py [--messages 100000] [--keep DIR] [--english]

Builds a mailbox of ``--messages`` generated messages (about 1.5 KiB of text each from a
20,000-word vocabulary of random letters, or with ``--english`` the words of the standard
library's docstrings; a fifth HTML-only, a fifth base64, a fifth multipart with an
attachment) by writing Maildir files and letting the store adopt them (the path an
import takes, which stores the text as delivery does), then puts all the text into the
word index as the first searches would (timed). Then, for a rare word, a
common word and a phrase, it times ``Folder.search_text`` (what IMAP SEARCH BODY/TEXT and
webmail call) and the old scan on the newest 1,000 messages (extrapolated to the
mailbox). Then it times the IMAP command itself (``UID SEARCH TEXT``, ``SEARCH TEXT`` and
``UID SEARCH RETURN (ALL) TEXT``: parse, search, the response's bytes; no network) on a
view of the folder. Prints wall and CPU milliseconds, the 1-minute load average beside them
(the machine may be shared), the index file size and the full-text tables' share per 100k
messages.
"""

from __future__ import annotations

import argparse
import base64
import collections
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agents.imap import parser as imap_parser  # noqa: E402
from agents.imap.interfaces import Reply  # noqa: E402
from agents.imap.selected import Selected  # noqa: E402
from agents.store import Store, fulltext, textbits  # noqa: E402
from agents.store.mime import searchable_text  # noqa: E402


class _Owner:
    """The little of an IMAP session a selected view asks for (no user, no junk training)."""

    condstore = qresync = rev2 = False
    junk_training = None
    user = None

    def __init__(self, box) -> None:  # type: ignore[no-untyped-def]
        self.box = box

    def changed(self, folder: str) -> None:
        pass


ENGLISH = False  # --english: words of the Python standard library's docstrings and comments, commonest first


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """Random words of 3–10 letters, or (``ENGLISH``) English words by falling frequency; the index is the rank."""
    if ENGLISH:
        counts: collections.Counter[str] = collections.Counter()
        for source in sorted(Path(os.__file__).parent.rglob("*.py")):
            if "site-packages" in source.parts:  # the standard library only: the same words on every machine
                continue
            text = source.read_text(errors="replace")
            for docstring, comment in re.findall(r'"""(.*?)"""|#(.*)', text, re.S):
                counts.update(w.lower() for w in re.findall(r"[A-Za-z]+", docstring + comment))
        return [word for word, _ in counts.most_common(size)]
    letters = "abcdefghijklmnopqrstuvwxyzäöüé"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(size)]


HTML = "Content-Type: text/html; charset=utf-8\r\n\r\n"
BASE64 = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
PLAIN = "Content-Type: text/plain; charset=utf-8\r\n\r\n"
MIXED = 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n' + PLAIN
ATTACHMENT = "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"


def make_message(rng: random.Random, words: list[str], weights: list[float], n: int) -> bytes:
    text = " ".join(rng.choices(words, weights, k=220))
    subject = " ".join(rng.choices(words, weights, k=5))
    head = (
        f"From: sender{n % 500}@example.org\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
        f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{n}@bench.example>\r\nMIME-Version: 1.0\r\n"
    )
    kind = n % 5
    if kind == 1:
        return (head + HTML + f"<html><body><p>{text}</p></body></html>\r\n").encode()
    if kind == 2:
        return (head + BASE64).encode() + base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")
    if kind == 3:
        attachment = base64.encodebytes(rng.randbytes(600)).replace(b"\n", b"\r\n")
        return (head + MIXED + f"{text}\r\n" + ATTACHMENT).encode() + attachment + b"--b--\r\n"
    return (head + PLAIN + f"{text}\r\n").encode()


def build(store: Store, count: int, seed: int = 7) -> tuple[float, float]:
    """Write ``count`` messages into INBOX/cur and let the store adopt them; returns (wall s, CPU s)."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf-like: a few common words, many rare ones
    box = store.mailbox("alice@example.com")
    inbox = box.folder("INBOX")
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, count, 5000):
        for n in range(start, min(count, start + 5000)):
            data = make_message(rng, words, weights, n)
            name = f"{1_700_000_000 + n}.M{n}P1.bench,S={len(data)}:2,S"
            (inbox.path / "cur" / name).write_bytes(data)
        inbox.rescan()
        print(f"  built {min(count, start + 5000)} messages", file=sys.stderr)
    return time.perf_counter() - started, time.process_time() - cpu


def timed(call, repeat: int = 5) -> tuple[float, float, object, float]:  # type: ignore[no-untyped-def]
    """Median wall and CPU ms of ``repeat`` calls, the result, and the first call's CPU ms (before any answer
    kept by the process could serve it)."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus), result, cpus[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the mailbox here instead of a temporary directory")
    parser.add_argument("--english", action="store_true",
                        help="English words (from the standard library's docstrings) instead of random letters")
    args = parser.parse_args()
    global ENGLISH
    ENGLISH = args.english
    root = args.keep or Path(tempfile.mkdtemp(prefix="mailapp-search-bench-"))
    store = Store(root / "mail")
    box = store.mailbox("alice@example.com")
    inbox = box.folder("INBOX")
    if inbox.exists < args.messages:
        wall, cpu = build(store, args.messages - inbox.exists)
        print(f"build: {args.messages} messages in {wall:.0f} s wall, {cpu:.0f} s CPU "
              f"({cpu / args.messages * 1000:.2f} ms CPU a message, parse + summary + full text)")  # fmt: skip
    inbox = store.mailbox("alice@example.com").folder("INBOX")
    total = inbox.exists
    wall, cpu = time.perf_counter(), time.process_time()
    while fulltext.index_pending(inbox._index, inbox.id, 5000):  # what the first searches would do, in bulk
        pass
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"word index of the pending texts: {wall:.1f} s wall, {cpu:.1f} s CPU; load {os.getloadavg()[0]:.1f}")
    wall, cpu = time.perf_counter(), time.process_time()
    folds, covered = 0, None
    while covered != (covered := textbits.upto(inbox._index.conn, inbox.id)) or folds == 0:
        textbits.fold(inbox._index, inbox.id)  # what the first searches would do, BATCH rows each
        folds += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"posting bitmaps up to UID {covered}: {folds - 1} folds, {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"({cpu / max(1, total) * 1000:.2f} ms CPU a message); load {os.getloadavg()[0]:.1f}")  # fmt: skip
    index_path = box.index_path
    with sqlite3.connect(index_path) as conn:
        fts = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'fulltext%'").fetchone()[0] or 0
        parts = conn.execute(
            "SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE 'fulltext%' GROUP BY name ORDER BY 2 DESC LIMIT 6"
        ).fetchall()
    size = index_path.stat().st_size
    print(f"mailbox: {total} messages; index file {size / 2**20:.0f} MiB, of which full text {fts / 2**20:.0f} MiB "
          f"= {fts / 2**20 * 100_000 / total:.0f} MiB per 100k messages ("
          + ", ".join(f"{name} {pages / 2**20:.0f}" for name, pages in parts) + ")")  # fmt: skip
    rng = random.Random(7)
    words = vocabulary(rng)
    queries = [("rare word", words[min(15_000, len(words) - 1)]), ("word of rank 500", words[500]),
               ("word in about half", words[29]), ("common word", words[3]), ("phrase", f"{words[0]} {words[1]}"),
               ("absent", "zzqqxxnotthere"), ("two letters", words[3][:2])]  # fmt: skip
    if ENGLISH:  # parts of many other words: the costly kind of needle for the word index
        queries += [("the", "the"), ("ing", "ing"), ("tion", "tion"), ("phrase 'of the'", "of the"),
                    ("phrase 'in the' (rare neighbours possible)", "in the")]  # fmt: skip
    uids = inbox.uids()
    sample = uids[-1000:]
    for label, needle in queries:
        for body_only in (False, True):
            key = "BODY" if body_only else "TEXT"
            textbits.forget_answers()
            wall, cpu, found, first = timed(lambda: inbox.search_text(needle, body_only=body_only))  # noqa: B023
            scan_wall, scan_cpu = time.perf_counter(), time.process_time()
            for uid in sample:
                needle.casefold() in searchable_text(inbox.read(uid), body_only).casefold()  # noqa: B015
            per = (time.perf_counter() - scan_wall) * 1000 / len(sample)
            per_cpu = (time.process_time() - scan_cpu) * 1000 / len(sample)
            load = os.getloadavg()[0]
            print(f"SEARCH {key} {label!r}: {len(found)} hits; index {wall:.1f} ms wall, {cpu:.1f} ms CPU "  # type: ignore[arg-type]
                  f"(first {first:.1f}); "
                  f"old scan ~{per * total:.0f} ms wall, {per_cpu * total:.0f} ms CPU; load {load:.1f}")  # fmt: skip
    view = Selected(_Owner(box), inbox, "INBOX", readonly=True)  # type: ignore[arg-type]
    for label, needle in queries:
        for form in ("UID SEARCH TEXT", "SEARCH TEXT", "UID SEARCH RETURN (ALL) TEXT"):
            command = imap_parser.parse_command(f'a {form.replace("TEXT", "CHARSET UTF-8 TEXT")} "{needle}"'.encode())

            def run() -> int:
                reply = Reply()
                view.cmd_search(command, reply)  # type: ignore[arg-type]  # noqa: B023
                return sum(len(line) for line in reply.lines)

            textbits.forget_answers()  # the first run computes every answer again
            wall, cpu, sent, first = timed(run)
            print(f"IMAP {form} {label!r}: {wall:.1f} ms wall, {cpu:.1f} ms CPU (first {first:.1f}), "
                  f"{sent} response bytes; "
                  f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
