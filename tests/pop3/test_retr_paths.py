"""RETR's ways to a message: from the page cache on the loop, from a reader thread, under backpressure.

Whichever way a message comes, the client gets the same octets; a client that pipelines
thousands of commands and reads nothing costs the server bounded memory.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from tests.conftest import PASSWORD

ALICE = "alice@example.com"


def _message(n: int, size: int) -> bytes:
    body = b"".join(b"%s line %d of message %d\r\n" % (b"." if i % 7 == 0 else b"", i, n) for i in range(size // 30))
    return b"Subject: m%d\r\n\r\n" % n + body


def _stuffed(raw: bytes) -> bytes:
    return b"\r\n".join(b"." + line if line.startswith(b".") else line for line in raw.split(b"\r\n"))


def _evict(folder_path: Path) -> int:
    """Ask the kernel to drop the folder's files from the page cache (clean pages go; tmpfs keeps them)."""
    dropped = 0
    for sub in ("cur", "new"):
        for path in (folder_path / sub).iterdir():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                dropped += 1
            finally:
                os.close(fd)
    return dropped


def test_messages_not_in_the_page_cache_come_through_the_reader_thread(pop3):
    raws = [_message(n, 3000 + n * 700) for n in range(40)] + [_message(99, 400_000)]  # and one beyond the inline limit
    for raw in raws:
        pop3.deliver(ALICE, raw)
    assert _evict(Path(pop3.inbox().path)) == len(raws)
    client = pop3.login()
    for number, raw in enumerate(raws, 1):
        response, lines, octets = client.retr(number)
        assert response == b"+OK %d octets" % len(raw)
        assert b"\r\n".join(lines) + b"\r\n" == raw  # poplib undoes the dot-stuffing
    client.quit()


def test_a_client_that_pipelines_and_does_not_read_is_held_back(pop3):
    raw = _message(1, 200_000)
    pop3.deliver(ALICE, raw)
    count = 3000  # 600 MB of replies if the server answered them all into memory
    with socket.create_connection(("127.0.0.1", pop3.port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        file = sock.makefile("rb")
        file.readline()
        sock.sendall(b"USER %s\r\nPASS %s\r\n" % (ALICE.encode(), PASSWORD.encode()))
        assert file.readline().startswith(b"+OK") and file.readline().startswith(b"+OK")
        sock.setblocking(False)
        sent = 0
        commands = b"RETR 1\r\n" * count
        refused = 0
        while sent < len(commands) and refused < 10:  # until the server stops taking commands
            try:
                sent += sock.send(commands[sent:])
                refused = 0
            except BlockingIOError:
                refused += 1
                time.sleep(0.05)
        time.sleep(0.3)
        (connection,) = pop3.server._connections
        pending = connection.transport.get_write_buffer_size() + sum(map(len, connection.out))
        assert pending < 4 * len(raw) + 1024 * 1024, pending  # a batch and the socket's share, not 3,000 copies
        assert len(connection.buffer) < 64 * 1024
        sock.setblocking(True)
        sock.sendall(commands[sent:])
        expected = b"+OK %d octets\r\n" % len(raw) + _stuffed(raw) + b".\r\n"
        for _ in range(count):
            assert file.read(len(expected)) == expected
        sock.sendall(b"QUIT\r\n")
        assert file.readline().startswith(b"+OK")
