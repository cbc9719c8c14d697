"""Issue 24, story 4: a mailbox moves from node B to node C while an IDLE client and deliveries run.

Node A (127.0.0.2) receives mail (smtp agent, beat); B (127.0.0.3) and C (127.0.0.4) each run a
worker, the IMAP agent and the web server (the move pulls the mailbox from B's). alice is homed
on B. With an IMAP client in IDLE on B and a client sending through A all along,
``manage.py movemailbox alice@example.com c`` runs: the IDLE session gets a BYE naming the move,
every message that got a 250 lands exactly once in alice's mailbox on C, and none is left on B;
after reconnecting (through the same nginx mail proxy, which now sends it to C), the client sees
the same UIDVALIDITY, the same UIDs with the same flags, and new mail arrives at the new home and is
announced in IDLE within 2 s (and a second of slack) of landing there.

Every client here connects from CLIENT_ADDRESS: the nodes trust PROXY headers from 127.0.0.1 (nginx),
and a connection from there must start with one.
"""

from __future__ import annotations

import imaplib
import re
import socket
import subprocess
import threading
import time

from agents.cluster.nodes import renew
from agents.models import MailboxMove, QueueEvent, QueueMessage
from tests.conftest import MANAGE, PASSWORD, PYTHON, REPO, free_port, wait_until

from .nodes import Node, cluster_broker, needs_postgres
from .proxy import CLIENT_ADDRESS, Nginx

pytestmark = needs_postgres

BEFORE = 20  # messages in the mailbox before the move
SECRET = "auth-http secret of the move story"
SUBJECT = re.compile(rb"Subject: load (\d+)")


def send(node: Node, numbers: range | list[int], accepted: list[int], stop: threading.Event | None = None,
         pause: float = 0.0) -> None:
    """Send ``Subject: load N`` for each N through ``node``'s SMTP agent; N goes into ``accepted`` on 250."""
    with socket.create_connection((node.address, node.smtp_port), timeout=30, source_address=(CLIENT_ADDRESS, 0)) \
            as sock, sock.makefile("rb") as reader:
        reader.readline()
        sock.sendall(b"EHLO load.test\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        for n in numbers:
            if stop is not None and stop.is_set():
                break
            sock.sendall(b"MAIL FROM:<load@remote.test>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n")
            replies = [reader.readline() for _ in range(3)]
            assert replies[2].startswith(b"354"), replies
            sock.sendall(b"From: load@remote.test\r\nSubject: load %d\r\n\r\nbody %d\r\n.\r\n" % (n, n))
            reply = reader.readline()
            assert reply.startswith(b"250 "), reply
            accepted.append(n)
            time.sleep(pause)
        sock.sendall(b"QUIT\r\n")


def subjects(node: Node) -> list[int]:
    found = []
    for path in node.maildir_files("alice@example.com"):
        match = SUBJECT.search(path.read_bytes())
        assert match, f"a message without its load number: {path}"
        found.append(int(match.group(1)))
    return found


def uid_map(imap: imaplib.IMAP4) -> dict[int, tuple[int, bytes]]:
    """Load number → (UID, FLAGS) of every message in the selected folder (\\Recent left out: it belongs
    to one session, whichever first sees the message)."""
    typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    result = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        uid = int(re.search(rb"UID (\d+)", head).group(1))
        flags = b" ".join(sorted(set(re.search(rb"FLAGS \(([^)]*)\)", head).group(1).split()) - {b"\\Recent"}))
        result[int(SUBJECT.search(body).group(1))] = (uid, flags)
    return result


class Idler:
    """An IMAP client in IDLE on a raw socket (through nginx): every line the server sends, as it comes.

    One command at a time, as a client waits for LOGIN's answer before it talks to the home node."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60, source_address=(CLIENT_ADDRESS, 0))
        self.reader = self.sock.makefile("rb")
        self.lines: list[bytes] = []
        self.reader.readline()
        for tag, command, done in ((b"a", f'LOGIN alice@example.com "{PASSWORD}"', b"a OK"),
                                   (b"b", "SELECT INBOX", b"b OK"), (b"c", "IDLE", b"+ ")):
            self.sock.sendall(tag + b" " + command.encode() + b"\r\n")
            while True:
                line = self.reader.readline()
                assert line, f"the server closed the connection before IDLE: {self.lines[-3:]}"
                self.lines.append(line)
                if line.startswith(done):
                    break
                assert not line.startswith(tag + b" "), line
        self.idling = len(self.lines)  # what came after this is IDLE's
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while line := self.reader.readline():
                self.lines.append(line)
        except OSError:
            pass

    def closed(self) -> bool:
        return not self.thread.is_alive()

    def close(self) -> None:
        """Hang up. The reading thread sits in ``readline()`` holding the buffered reader's lock, which
        ``reader.close()`` would wait for until the socket's 60 s timeout: ``shutdown()`` first ends
        that read (end of file), then both close."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the server hung up already
        self.thread.join(10)
        self.reader.close()
        self.sock.close()


def test_a_mailbox_moves_while_an_idle_client_and_deliveries_run(transactional_db, make_mailbox, tmp_path):
    make_mailbox("alice@example.com", home_node="b")
    broker = cluster_broker(tmp_path)
    http = str(free_port())
    imap_port = free_port()
    a, b, c = (Node(name, address, tmp_path, broker, MAILAPP_HTTP_PORT=http, MAILAPP_DELIVERY_BATCH="20",
                    MAILAPP_IMAP_PORT=str(imap_port), MAILAPP_TRUSTED_PROXIES="127.0.0.1",
                    MAILAPP_AUTH_HTTP_SECRET=SECRET)
               for name, address in (("a", "127.0.0.2"), ("b", "127.0.0.3"), ("c", "127.0.0.4")))
    for node in (a, b, c):  # the supervisors' lease rows (no supervisor runs here); long enough for the test
        renew(node.name, node.address, 600, starting=True)
    stop = threading.Event()
    idler: Idler | None = None
    proxy: Nginx | None = None
    try:
        a.smtpd()
        for node in (b, c):
            node.worker()
            node.imapd(imap_port)
            node.web()
        proxy = Nginx(tmp_path / "nginx", auth_http=f"{c.address}:{http}/auth/mailproxy", secret=SECRET,
                      imap_port=free_port(), pop3_port=free_port(), smtp_port=free_port(), imaps_port=free_port())

        accepted: list[int] = []
        send(a, range(BEFORE), accepted)
        wait_until(lambda: len(b.maildir_files("alice@example.com")) == BEFORE, "the first mail on node b",
                   timeout=120, every=0.2)

        imap = proxy.imap()
        imap.login("alice@example.com", PASSWORD)
        imap.select("INBOX")
        imap.uid("STORE", "3", "+FLAGS", "(\\Flagged)")
        imap.uid("STORE", "5", "+FLAGS", "(\\Seen $Work)")
        _, status = imap.status("INBOX", "(UIDVALIDITY UIDNEXT)")
        before = uid_map(imap)
        imap.logout()
        assert len(before) == BEFORE

        idler = Idler(proxy.imap_port)  # nginx sends it to b
        during: list[int] = []
        sender = threading.Thread(target=send, args=(a, range(1000, 1400), during, stop, 0.05), daemon=True)
        sender.start()
        wait_until(lambda: len(during) >= 10, "deliveries to run before the move", timeout=60)

        moved = subprocess.run([PYTHON, MANAGE, "movemailbox", "alice@example.com", "c", "--timeout", "300"],
                               cwd=REPO, env=a.env, capture_output=True, text=True, timeout=400)
        assert moved.returncode == 0, f"{moved.stdout}\n{moved.stderr}\n{c.log('worker')}\n{b.log('web')}"
        assert "now homed on node c" in moved.stdout

        wait_until(idler.closed, "the IDLE session on node b to be ended", timeout=30)
        bye = [line for line in idler.lines if line.startswith(b"* BYE")]
        assert bye and b"[UNAVAILABLE]" in bye[0] and b"moved" in bye[0], idler.lines[-5:]
        assert any(re.match(rb"\* \d+ EXISTS", line) for line in idler.lines[idler.idling:]), \
            "IDLE on node b announced none of the mail delivered before the move"

        wait_until(lambda: len(during) >= 10 + 20, "deliveries to go on after the move", timeout=120)
        stop.set()
        sender.join(60)
        assert not sender.is_alive()
        wanted = sorted(accepted + during)

        def everything_at_c() -> bool:
            return (not QueueMessage.objects.exclude(state=QueueMessage.DONE).exists()
                    and len(c.maildir_files("alice@example.com")) >= len(wanted))

        try:
            wait_until(everything_at_c, "every accepted message at alice's new home", timeout=180, every=0.2)
        except AssertionError as exc:
            left = list(QueueMessage.objects.exclude(state=QueueMessage.DONE).values(
                "queue_id", "state", "node", "source", "next_attempt", "last_error"))
            missing = sorted(set(wanted) - set(subjects(c)))
            raise AssertionError(f"{exc}\nmissing at c: {missing}\nmove: {list(MailboxMove.objects.values())}\n"
                                 f"queue: {left}\non b: {sorted(subjects(b))}") from None
        assert sorted(subjects(c)) == wanted, "a message was lost or stored twice by the move"
        assert QueueEvent.objects.filter(detail__contains="is being moved").exists(), \
            "no delivery met the frozen mailbox: the story did not test holding mail"
        wait_until(lambda: MailboxMove.objects.get().state == MailboxMove.DONE, "node b to retire its copy",
                   timeout=60)
        assert "is removed" in MailboxMove.objects.get().note, MailboxMove.objects.get().note
        assert not b.maildir_files("alice@example.com"), "the old home kept alice's mail in its live tree"

        asked = time.monotonic()
        imap = proxy.imap()  # the same address as before the move: nginx now sends it to c
        imap.login("alice@example.com", PASSWORD)
        print(f"the first login through the proxy after the move answered in {time.monotonic() - asked:.2f} s")
        imap.select("INBOX")
        _, status_after = imap.status("INBOX", "(UIDVALIDITY)")
        assert re.search(rb"UIDVALIDITY (\d+)", status_after[0]).group(1) == \
            re.search(rb"UIDVALIDITY (\d+)", status[0]).group(1), "UIDVALIDITY changed with the move"
        after = uid_map(imap)
        assert {n: after[n] for n in before} == before, "UIDs or flags changed with the move"
        uids = [uid for uid, _ in after.values()]
        assert len(uids) == len(set(uids)) == len(wanted)
        imap.logout()

        with socket.create_connection((b.address, imap_port), timeout=10, source_address=(CLIENT_ADDRESS, 0)) \
                as sock, sock.makefile("rb") as reader:
            reader.readline()
            sock.sendall(f'a LOGIN alice@example.com "{PASSWORD}"\r\n'.encode())
            refused = reader.readline()
        assert refused.startswith(b"a NO [UNAVAILABLE]") and b"node c" in refused, refused

        idler.close()
        idler = Idler(proxy.imap_port)  # through nginx again: now to c
        late: list[int] = []
        stored = len(c.maildir_files("alice@example.com"))
        send(a, [5000], late)
        accepted_at = time.monotonic()
        # The store's promise (IDLE within 2 s) counts from the delivery into the new home, not from the
        # 250 on node a: the hand-off to Celery and the delivery on c are the queue's, and on a loaded
        # 2-core CI they alone can take 2 s. So: the delay from the 250 is printed, the one from the
        # file landing at c is asserted, with the same second of slack as the two-process IDLE story.
        wait_until(lambda: len(c.maildir_files("alice@example.com")) > stored, "the new mail at c", timeout=60,
                   every=0.02)
        delivered_at = time.monotonic()
        wait_until(lambda: any(re.match(rb"\* \d+ EXISTS", line) for line in idler.lines[idler.idling:]),
                   "IDLE on the new home to announce new mail", timeout=60, every=0.02)
        announced = time.monotonic()
        print(f"new mail announced in IDLE through the proxy {announced - accepted_at:.2f} s after its 250, "
              f"{announced - delivered_at:.2f} s after its delivery at c")
        assert announced - delivered_at <= 3.0, \
            f"new mail announced in IDLE {announced - delivered_at:.2f} s after it was stored at c"
    finally:
        stop.set()
        if idler is not None:
            idler.close()
        if proxy is not None:
            proxy.stop()
        for node in (a, b, c):
            node.stop()
