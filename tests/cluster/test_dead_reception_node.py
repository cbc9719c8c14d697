"""Cluster mode: a reception node killed with ``kill -9`` loses nothing, and every mailbox is
written only on its home node.

Node A (127.0.0.2) receives: its smtp agent, and its beat, which holds the periodic lease. It
has no worker. Nodes B (127.0.0.3) and C (127.0.0.4) run workers and are the home nodes of
alice and carol. Every message goes to both, so whichever worker takes it stores one copy
itself and hands the other to the other node's queue (``deliver.<node>``). A is killed after
some 250s; B or C takes the periodic lease over and sweeps the messages A's hand-off never
sent. Every message A committed (each one that got a 250, and any whose 250 the kill cut off)
lands exactly once in each home node's Maildir, and the spool table ends empty.
"""

from __future__ import annotations

import re
import socket
import threading

from agents.models import ClusterLease, QueueMessage, SpooledBody
from tests.conftest import wait_until

from .nodes import Node, cluster_broker, needs_postgres

pytestmark = needs_postgres

TOTAL = 240  # planned over CLIENTS sessions; A is killed part-way
CLIENTS = 3
KILL_AFTER = 60  # 250s seen before the kill
QUEUE_ID = re.compile(rb"with E?SMTP id (\w+)")


def load(node: Node, quota: int, accepted: list[str], stop: threading.Event) -> None:
    try:
        with socket.create_connection((node.address, node.smtp_port), timeout=20) as sock, \
                sock.makefile("rb") as reader:
            reader.readline()
            sock.sendall(b"EHLO load.test\r\n")
            for _ in range(50):
                line = reader.readline()
                if line.startswith(b"250 ") or not line:
                    break
            for n in range(quota):
                if stop.is_set():
                    return
                sock.sendall(b"MAIL FROM:<load@remote.test>\r\nRCPT TO:<alice@example.com>\r\n"
                             b"RCPT TO:<carol@example.com>\r\nDATA\r\n")
                replies = [reader.readline() for _ in range(4)]
                if not replies[3].startswith(b"354"):
                    return
                sock.sendall(b"From: load@remote.test\r\nSubject: load %d\r\n\r\nbody\r\n.\r\n" % n)
                reply = reader.readline()
                if not reply.startswith(b"250 "):
                    return
                accepted.append(reply.split()[-1].decode())
    except (OSError, ValueError):
        pass  # node A died under us: expected


def stored_ids(node: Node, address: str) -> list[str]:
    """The queue id A gave each message in ``address``'s Maildir on ``node`` (from its Received line)."""
    found = []
    for path in node.maildir_files(address):
        match = QUEUE_ID.search(path.read_bytes())
        assert match, f"no Received id in {path}"
        found.append(match.group(1).decode())
    return found


def test_a_reception_node_killed_mid_load_loses_nothing_and_each_home_node_stores_its_copy_once(
        transactional_db, make_mailbox, tmp_path):
    make_mailbox("alice@example.com", home_node="b")
    make_mailbox("carol@example.com", home_node="c")
    broker = cluster_broker(tmp_path)
    a = Node("a", "127.0.0.2", tmp_path, broker)
    b = Node("b", "127.0.0.3", tmp_path, broker)
    c = Node("c", "127.0.0.4", tmp_path, broker)
    accepted: list[str] = []
    stop = threading.Event()
    try:
        a.beat()
        a.smtpd()
        wait_until(lambda: ClusterLease.objects.filter(name="periodic", holder="a").exists(),
                   "node a to take the periodic lease", timeout=60)
        b.worker()
        c.worker()
        clients = [threading.Thread(target=load, args=(a, TOTAL // CLIENTS, accepted, stop), daemon=True)
                   for _ in range(CLIENTS)]
        for client in clients:
            client.start()
        wait_until(lambda: len(accepted) >= KILL_AFTER or not any(t.is_alive() for t in clients),
                   "250s from node a", timeout=120, every=0.005)
        a.kill9()
        stop.set()
        for client in clients:
            client.join(20)
        assert len(accepted) >= KILL_AFTER, f"the load never got going:\n{a.log('smtpd')}"
        assert len(accepted) < TOTAL, "node a was killed after the whole load: nothing was cut off"

        committed = set(QueueMessage.objects.filter(source="smtp").values_list("queue_id", flat=True))
        assert set(accepted) <= committed, "a message that got a 250 has no queue row"

        def everything_delivered() -> bool:
            return (not QueueMessage.objects.exclude(state=QueueMessage.DONE).exists()
                    and len(b.maildir_files("alice@example.com")) >= len(committed)
                    and len(c.maildir_files("carol@example.com")) >= len(committed))

        wait_until(everything_delivered, "nodes b and c to deliver everything node a committed", timeout=180,
                   every=0.2)
        for node, address in ((b, "alice@example.com"), (c, "carol@example.com")):
            ids = stored_ids(node, address)
            assert len(ids) == len(set(ids)), f"a message stored twice in {address} on node {node.name}"
            assert set(ids) == committed, f"{address} on node {node.name} differs from what node a committed"
        assert not b.maildir_files("carol@example.com") and not c.maildir_files("alice@example.com"), \
            "a mailbox was written on a node that is not its home"
        assert not (a.home / "mail").exists(), "the reception node stored mail"
        routed = QueueMessage.objects.filter(source="route")
        assert routed.count() == len(committed)  # one copy per message handed to the other home node
        assert set(routed.values_list("node", flat=True)) <= {"b", "c"}
        assert SpooledBody.objects.count() == 0, "the spool table is not empty"
        assert not [f for f in (a.home / "spool").rglob("*") if f.is_file()], "cluster mode wrote spool files"
        # (mail may all be delivered before node a's lease runs out: the takeover comes after)
        wait_until(lambda: ClusterLease.objects.get(name="periodic").holder in ("b", "c"),
                   "node b or c to take over the periodic lease", timeout=30)
    finally:
        stop.set()
        for node in (a, b, c):
            node.stop()
