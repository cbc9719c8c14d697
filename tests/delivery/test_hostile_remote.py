"""A remote host that misbehaves never loses the mail or raises: the recipient is deferred."""

import socket
import threading

import pytest

from agents.models import QueueRecipient

from .conftest import deliver_all, message, queue

pytestmark = pytest.mark.django_db


class Scripted:
    """A one-connection-at-a-time SMTP impostor answering each line from a script."""

    def __init__(self, greeting: bytes, answers: dict[bytes, bytes], after_data: bytes | None = b"250 ok\r\n"):
        self.greeting, self.answers, self.after_data = greeting, answers, after_data
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(30)  # a bound only: on a loaded machine the client may pause for seconds
                try:
                    self.session(conn)
                except OSError:
                    pass

    def session(self, conn):
        conn.sendall(self.greeting)
        reader = conn.makefile("rb")
        for _ in range(50):
            line = reader.readline(10_000)
            if not line:
                return
            verb = line.split(b" ")[0].split(b":")[0].strip().upper()
            if verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                while reader.readline(100_000) not in (b".\r\n", b""):
                    pass
                if self.after_data is None:
                    return  # hang up instead of answering
                conn.sendall(self.after_data)
                continue
            conn.sendall(self.answers.get(verb, b"250 ok\r\n"))
            if verb == b"QUIT":
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.mark.parametrize("greeting, answers, after_data, expected", [
    (b"554 5.7.1 go away\r\n", {}, b"250 ok\r\n", "554"),
    (b"garbage without a code\r\n", {}, b"250 ok\r\n", "without a code"),
    (b"220 hi\r\n", {b"EHLO": b"250 " + b"x" * 9000 + b"\r\n"}, b"250 ok\r\n", "Line too long"),
    (b"220 hi\r\n", {}, None, "lost connection"),
    (b"220 hi\r\n", {b"MAIL": b"421 4.3.2 shutting down\r\n"}, b"250 ok\r\n", "421"),
])
def test_misbehaving_hosts_defer(settings, dns_server, greeting, answers, after_data, expected):
    with Scripted(greeting, answers, after_data) as host:
        settings.MAILAPP_REMOTE_SMTP_PORT = host.port
        qid = queue(message(), "alice@example.com", ["dave@remote.test"])
        assert deliver_all() == {qid: "deferred 1"}
    rcpt = QueueRecipient.objects.get(message_id=qid)
    assert rcpt.state == "deferred" and rcpt.in_doubt is None
    assert "mx1.remote.test" in rcpt.last_error  # names the host that misbehaved
    assert expected in rcpt.last_error
