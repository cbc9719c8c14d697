"""Issue 24, story 3: a home node killed with ``kill -9`` makes its mailboxes wait; their mail is
accepted meanwhile and delivered once the node is back, exactly once, and never anywhere else.

Node A (127.0.0.2) receives (smtp agent, beat); B (127.0.0.3) is alice's home, C (127.0.0.4)
carol's; B and C run workers. The test renews the nodes' leases as their supervisors would, and
stops renewing B's while it is dead.
"""

from __future__ import annotations

import re
import socket
import threading

from agents.cluster.nodes import renew
from agents.models import QueueMessage
from tests.conftest import wait_until

from .nodes import Node, cluster_broker, needs_postgres

pytestmark = needs_postgres

SUBJECT = re.compile(rb"Subject: (\w+) (\d+)")


def send(node: Node, recipient: str, tag: str, count: int) -> int:
    accepted = 0
    with socket.create_connection((node.address, node.smtp_port), timeout=30) as sock, sock.makefile("rb") as reader:
        reader.readline()
        sock.sendall(b"EHLO load.test\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        for n in range(count):
            sock.sendall(f"MAIL FROM:<load@remote.test>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode())
            replies = [reader.readline() for _ in range(3)]
            assert replies[2].startswith(b"354"), replies
            sock.sendall(f"From: load@remote.test\r\nSubject: {tag} {n}\r\n\r\nbody\r\n.\r\n".encode())
            assert reader.readline().startswith(b"250 ")
            accepted += 1
        sock.sendall(b"QUIT\r\n")
    return accepted


def stored(node: Node, address: str) -> list[tuple[str, int]]:
    found = []
    for path in node.maildir_files(address):
        match = SUBJECT.search(path.read_bytes())
        assert match, path
        found.append((match.group(1).decode(), int(match.group(2))))
    return sorted(found)


def test_mail_for_a_dead_home_node_waits_and_is_delivered_once_it_returns(transactional_db, make_mailbox, tmp_path):
    make_mailbox("alice@example.com", home_node="b")
    make_mailbox("carol@example.com", home_node="c")
    broker = cluster_broker(tmp_path)
    a, b, c = (Node(name, address, tmp_path, broker)
               for name, address in (("a", "127.0.0.2"), ("b", "127.0.0.3"), ("c", "127.0.0.4")))
    dead: set[str] = set()
    stop = threading.Event()

    def supervisors() -> None:  # each node's lease, renewed every second while the node lives
        while not stop.is_set():
            for node in (a, b, c):
                if node.name not in dead:
                    renew(node.name, node.address, 3)
            stop.wait(1)

    renewer = threading.Thread(target=supervisors, daemon=True)
    renewer.start()
    try:
        a.beat()
        a.smtpd()
        b.worker(beat=False)
        c.worker(beat=False)
        assert send(a, "alice@example.com", "before", 5) == 5
        wait_until(lambda: len(b.maildir_files("alice@example.com")) == 5
                   and not QueueMessage.objects.exclude(state=QueueMessage.DONE).exists(),
                   "alice's first mail on node b, recorded", timeout=120, every=0.2)

        b.kill9()
        dead.add("b")
        assert send(a, "alice@example.com", "while", 10) == 10, "mail for a dead node's mailbox was refused"
        assert send(a, "carol@example.com", "while", 10) == 10
        wait_until(lambda: len(c.maildir_files("carol@example.com")) == 10, "carol's mail on node c (alive)",
                   timeout=120, every=0.2)
        waiting = QueueMessage.objects.filter(node="b").exclude(state=QueueMessage.DONE)
        wait_until(lambda: waiting.count() == 10, "alice's ten copies to wait for node b", timeout=120, every=0.2)
        assert stored(b, "alice@example.com") == [("before", n) for n in range(5)], "mail reached a dead node"
        assert not c.maildir_files("alice@example.com") and not a.maildir_files("alice@example.com"), \
            "alice's mail was stored on a node that is not her home"

        b.worker(beat=False)  # node b is back
        dead.discard("b")
        wait_until(lambda: len(b.maildir_files("alice@example.com")) >= 15 and not waiting.exists(),
                   "node b to deliver what waited for it", timeout=180, every=0.2)
        assert stored(b, "alice@example.com") == sorted([("before", n) for n in range(5)]
                                                        + [("while", n) for n in range(10)]), \
            "a message waiting for node b was lost or stored twice"
        assert stored(c, "carol@example.com") == [("while", n) for n in range(10)]
        left = list(QueueMessage.objects.exclude(state=QueueMessage.DONE).values(
            "queue_id", "state", "node", "source", "parent", "attempts", "last_error", "recipients__state"))
        assert not left, "\n".join(map(str, left))
    finally:
        stop.set()
        renewer.join(10)
        for node in (a, b, c):
            node.stop()
