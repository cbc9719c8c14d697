"""``kill -9`` of the smtp agent under load loses no message that got its 250."""

from __future__ import annotations

import socket
import threading
import time

from agents.models import QueueMessage, QueueRecipient
from agents.queue import spool

from .agentproc import AgentProcess

TOTAL = 2000  # the planned load; the agent is killed part-way
CLIENTS = 8
KILL_AFTER = 600  # 250s seen before the kill
BODY = b"From: load@remote.test\r\nSubject: load\r\n\r\n" + (b"x" * 76 + b"\r\n") * 50 + b".\r\n"


def load(port: int, quota: int, accepted: list[str], stop: threading.Event) -> None:
    """Send messages on one pipelined session, recording the queue id of every 250."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, sock.makefile("rb") as reader:
            send(sock, reader, quota, accepted, stop)
    except (OSError, ValueError):
        pass  # the agent died under us: expected


def send(sock: socket.socket, reader, quota: int, accepted: list[str], stop: threading.Event) -> None:
    """The session itself: EHLO, then MAIL, RCPT, DATA pipelined until the quota or a refusal."""
    reader.readline()
    sock.sendall(b"EHLO load.test\r\n")
    for _ in range(50):  # the EHLO reply's lines (bounded: a dead agent sends b"" forever)
        line = reader.readline()
        if line.startswith(b"250 ") or not line:
            break
    for _ in range(quota):
        if stop.is_set():
            break
        sock.sendall(b"MAIL FROM:<load@remote.test>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n")
        replies = [reader.readline() for _ in range(3)]
        if not replies[2].startswith(b"354"):
            break
        sock.sendall(BODY)
        reply = reader.readline()
        if reply.startswith(b"250 "):
            accepted.append(reply.split()[-1].decode())
        else:
            break


def test_messages_that_got_250_survive_kill_9(transactional_db, example_com):
    agent = AgentProcess()
    accepted: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=load, args=(agent.mx, TOTAL // CLIENTS, accepted, stop), daemon=True)
        for _ in range(CLIENTS)
    ]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120  # bounds the wait on a busy machine; the kill comes at KILL_AFTER
        while len(accepted) < KILL_AFTER and time.monotonic() < deadline and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        agent.kill9()  # every worker at once: no cleanup, no flush
        stop.set()
        for thread in threads:
            thread.join(10)
    finally:
        agent.stop()
    assert len(accepted) >= KILL_AFTER // 2, "the load never got going"
    assert len(set(accepted)) == len(accepted)
    stored = set(QueueMessage.objects.filter(queue_id__in=accepted).values_list("queue_id", flat=True))
    with_recipients = set(
        QueueRecipient.objects.filter(message_id__in=accepted).values_list("message_id", flat=True)
    )
    missing_rows = [q for q in accepted if q not in stored or q not in with_recipients]
    missing_files = [q for q in accepted if not spool.exists(q)]
    assert missing_rows == [] and missing_files == []
