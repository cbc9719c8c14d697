"""Deletions happen only at QUIT (UPDATE state), through the store, visible to IMAP; RETR marks \\Seen."""

from __future__ import annotations

import socket
import time

from tests.conftest import PASSWORD


def test_interrupted_session_deletes_nothing(pop3):
    uids = [pop3.deliver("alice@example.com", f"Subject: {i}\r\n\r\nx\r\n".encode()) for i in range(3)]
    client = pop3.login()
    client.dele(1)
    client.dele(2)
    client.sock.shutdown(socket.SHUT_RDWR)  # dropped before QUIT
    client.close()
    for _ in range(100):
        time.sleep(0.02)
        if not pop3.server._connections:
            break
    assert pop3.inbox().uids() == uids


def test_quit_expunges_through_the_store_so_imap_sees_it(pop3):
    uids = [pop3.deliver("alice@example.com", f"Subject: {i}\r\n\r\nx\r\n".encode()) for i in range(3)]
    folder = pop3.inbox()
    modseq = folder.highestmodseq
    client = pop3.login()
    client.dele(2)
    client.quit()
    assert pop3.inbox().uids() == [uids[0], uids[2]]
    assert pop3.inbox().changes_since(modseq).expunged == [uids[1]]


def test_retr_marks_seen_and_top_does_not(pop3):
    pop3.deliver("alice@example.com", b"Subject: a\r\n\r\nx\r\n")
    pop3.deliver("alice@example.com", b"Subject: b\r\n\r\ny\r\n")
    client = pop3.login()
    client.retr(1)
    client.top(2, 0)
    client.quit()
    flags = [m.flags for m in pop3.inbox().messages()]
    assert "\\Seen" in flags[0] and "\\Seen" not in flags[1]


def test_mail_arriving_during_a_session_waits_for_the_next_one(pop3):
    pop3.deliver("alice@example.com", b"Subject: a\r\n\r\nx\r\n")
    client = pop3.login()
    pop3.deliver("alice@example.com", b"Subject: b\r\n\r\ny\r\n")
    assert client.stat()[0] == 1
    client.dele(1)
    client.quit()
    client = pop3.login()
    assert client.stat()[0] == 1
    client.quit()


def test_a_script_that_half_closes_after_pipelining_still_gets_its_quit(pop3):
    uids = [pop3.deliver("alice@example.com", f"Subject: {i}\r\n\r\nx\r\n".encode()) for i in range(3)]
    with socket.create_connection(("127.0.0.1", pop3.port), timeout=10) as sock:
        # PASS waits for the password check; DELE and QUIT arrive (and the end of input) meanwhile.
        sock.sendall(b"USER alice@example.com\r\nPASS " + PASSWORD.encode() + b"\r\nDELE 2\r\nQUIT\r\n")
        sock.shutdown(socket.SHUT_WR)
        replies = b""
        while chunk := sock.recv(4096):
            replies += chunk
    assert [line[:3] for line in replies.split(b"\r\n")[:-1]] == [b"+OK"] * 5, replies
    assert pop3.inbox().uids() == [uids[0], uids[2]]
