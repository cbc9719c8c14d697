"""``kill -9`` of the smtp agent while group commits are under way: after delivery every message
that got its ``250`` is in each recipient's mailbox exactly once, and no message without one is
half there.

Many concurrent sessions send to two local mailboxes; with that many, the agent's group commit
(``agents.queue.group``) always has messages whose spool files are written and whose rows are
not yet committed. The whole agent (every listener process) is killed with SIGKILL mid-stream.
Both multi-process layouts are killed: forked workers sharing the agent's sockets
(``smtpd --workers 2``) and separate processes sharing the ports by SO_REUSEPORT
(``MAILAPP_SMTP_PROCESSES=2``, the large profile). A round counts as "killed during a group
commit" when messages were caught between their end of DATA and their rows: for messages
spooled in files (larger than ``spool.INLINE_MAX``), complete spool files
without queue rows are left behind, those messages had joined a group that never committed; for
small messages, whose bodies are committed with their rows in one transaction, there
is no file to see, and a message whose whole body was sent, that got no reply and has no rows
counts. Up to ``ROUNDS`` rounds are run until one does (it is the usual case on the first). Then:

- every queue row has its complete body (spool file or row) and all its recipient rows (a
  message is either wholly queued or not queued at all);
- every acknowledged queue id has its rows;
- a delivery run stores every queued message once per recipient, and nothing else.

It runs on SQLite and, in the PostgreSQL + Redis pass of ``scripts/test.sh``, on PostgreSQL.
"""

from __future__ import annotations

import collections
import email
import socket
import threading
import time

import pytest

from agents.models import QueueMessage, QueueRecipient, SpooledBody
from agents.queue import spool
from tests.delivery.conftest import index_count, maildir_files

from .agentproc import AgentProcess

SESSIONS = 40
PER_SESSION = 60
KILL_AFTER = 250  # acknowledged messages in the round before the kill
ROUNDS = 3
RECIPIENTS = ("alice@example.com", "bob@example.com")
TRAILER = b"end of the load message\r\n"


SIZES = {"small": 40, "large": spool.INLINE_MAX // 78 + 10}  # lines of 78 octets: inline (with the rows), a file


def body(mid: str, lines: int) -> bytes:
    return (
        f"From: load@remote.test\r\nSubject: load\r\nMessage-ID: {mid}\r\n\r\n".encode()
        + (b"x" * 76 + b"\r\n") * lines + TRAILER
    )


class Load:
    """SESSIONS pipelined sessions; records the Message-ID of every 250 and of every DATA left unanswered."""

    def __init__(self, port: int, round_no: int, lines: int) -> None:
        self.port, self.round_no, self.lines = port, round_no, lines
        self.acked: dict[str, str] = {}  # Message-ID -> queue id
        self.cut: set[str] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def session(self, number: int) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=20) as sock, sock.makefile("rb") as r:
                self._send(number, sock, r)
        except (OSError, ValueError):
            pass  # the agent died under us: expected

    def _send(self, number: int, sock: socket.socket, reader) -> None:
        reader.readline()
        sock.sendall(b"EHLO load.test\r\n")
        for _ in range(50):  # the EHLO reply's lines (bounded: a dead agent sends b"" forever)
            line = reader.readline()
            if line.startswith(b"250 ") or not line:
                break
        rcpts = b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in RECIPIENTS)
        for n in range(PER_SESSION):
            if self.stop.is_set():
                return
            mid = f"<r{self.round_no}-s{number}-{n}@load.test>"
            sock.sendall(b"MAIL FROM:<load@remote.test>\r\n" + rcpts + b"DATA\r\n")
            replies = [reader.readline() for _ in range(2 + len(RECIPIENTS))]
            if not replies[-1].startswith(b"354"):
                return
            with self.lock:
                self.cut.add(mid)
            sock.sendall(body(mid, self.lines) + b".\r\n")
            reply = reader.readline()
            if not reply.startswith(b"250 "):
                return
            with self.lock:
                self.cut.discard(mid)
                self.acked[mid] = reply.split()[-1].decode()


def spool_files() -> dict[str, bytes]:
    """Every spool file by queue id (reservations made ahead are empty files)."""
    found = {}
    for folder in spool.spool_root().iterdir():
        if folder.is_dir():
            for path in folder.iterdir():
                found[path.name] = path.read_bytes()
    return found


def spooled() -> dict[str, bytes]:
    """Every queued body by queue id: spool files, and the rows of bodies spooled in the database."""
    return {**spool_files(), **{q: bytes(d) for q, d in SpooledBody.objects.values_list("message_id", "data")}}


def run_round(round_no: int, layout: dict, lines: int) -> tuple[Load, int]:
    """One agent, loaded and killed; returns the load and how many messages died inside a group."""
    agent = AgentProcess(**layout)
    load = Load(agent.mx, round_no, lines)
    threads = [threading.Thread(target=load.session, args=(i,), daemon=True) for i in range(SESSIONS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120  # bounds the wait on a busy machine
        while len(load.acked) < KILL_AFTER and time.monotonic() < deadline and any(t.is_alive() for t in threads):
            time.sleep(0.005)
        agent.kill9()  # every listener process at once, mid-stream: no cleanup, no flush
        load.stop.set()
        for thread in threads:
            thread.join(20)
    finally:
        agent.stop()
    assert len(load.acked) >= KILL_AFTER // 2, "the load never got going"
    queued = set(QueueMessage.objects.values_list("queue_id", flat=True))
    in_group = [q for q, data in spool_files().items() if q not in queued and data.endswith(TRAILER)]
    if not in_group:  # bodies committed with their rows: what was sent whole and never queued
        queued_mids = set(QueueMessage.objects.values_list("message_id", flat=True))
        in_group = [mid for mid in load.cut if mid not in queued_mids]
    return load, len(in_group)


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("layout", [{"workers": 2}, {"processes": 2}], ids=["forked-workers", "reuseport-processes"])
def test_acknowledged_mail_is_delivered_once_after_a_kill_during_group_commit(transactional_db, example_com, layout,
                                                                             size):
    acked: dict[str, str] = {}
    cut: set[str] = set()
    caught = 0
    for round_no in range(ROUNDS):
        load, in_group = run_round(round_no, layout, SIZES[size])
        acked.update(load.acked)
        cut |= load.cut
        caught += in_group
        print(f"\nround {round_no}: {len(load.acked)} acknowledged, {len(load.cut)} cut, "
              f"{in_group} written but not committed at the kill")
        if in_group:
            break
    assert caught, f"in {ROUNDS} rounds no kill landed while a group commit was pending"

    # Queued means wholly queued: every row has its whole body and both recipient rows.
    files = spooled()
    rows = {m.queue_id: m for m in QueueMessage.objects.all()}
    recipients = collections.Counter(QueueRecipient.objects.values_list("message_id", flat=True))
    half = [q for q, m in rows.items() if q not in files or len(files[q]) != m.size or not files[q].endswith(TRAILER)
            or recipients[q] != len(RECIPIENTS)]
    assert half == [], "queue rows without their whole spool file or without every recipient"
    assert set(acked.values()) <= set(rows), "a message that got its 250 has no queue rows"
    queued_mids = {m.message_id for m in rows.values()}
    assert queued_mids <= set(acked) | cut, "a queued message nobody sent"

    from agents.delivery import runner

    for _ in range(10):  # bounded: each run delivers up to 1,000 due messages
        if not runner.run_due():
            break
    assert not QueueMessage.objects.exclude(state="done").exists(), "every queued message is delivered"
    for address in RECIPIENTS:
        stored = collections.Counter(email.message_from_bytes(p.read_bytes())["Message-ID"]
                                     for p in maildir_files(address))
        assert {mid: n for mid, n in stored.items() if n > 1} == {}, f"{address}: a second copy"
        assert set(acked) <= set(stored), f"{address}: an acknowledged message is missing"
        assert set(stored) == queued_mids, f"{address}: exactly the queued messages"
        assert index_count(address) == len(stored)
