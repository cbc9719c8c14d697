"""RFC 1939 exclusive access: a second session on the same maildrop gets -ERR [IN-USE]."""

from __future__ import annotations

import poplib
import socket
import subprocess
import sys
import textwrap

import pytest

from agents.pop3.lock import LOCK_NAME
from tests.conftest import PASSWORD


def test_second_session_is_refused_until_the_first_quits(pop3):
    first = pop3.login()
    second = pop3.connect()
    second.user("alice@example.com")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        second.pass_(PASSWORD)
    other_user = pop3.login("bob@example.com")  # a different maildrop is not affected
    other_user.quit()
    first.quit()
    third = pop3.login()
    third.quit()


def test_a_dropped_connection_releases_the_lock(pop3):
    first = pop3.login()
    first.sock.shutdown(socket.SHUT_RDWR)
    first.close()
    for _ in range(100):  # the server notices the close within a moment (5 s for a busy machine)
        try:
            client = pop3.login()
        except poplib.error_proto:
            import time

            time.sleep(0.05)
            continue
        client.quit()
        return
    pytest.fail("lock not released after the connection dropped")


def test_lock_held_by_another_process_is_honoured(pop3):
    path = pop3.store.mailbox("alice@example.com").path / LOCK_NAME
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import fcntl, os, sys
            fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            print("locked", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"locked\n"
        client = pop3.connect()
        client.user("alice@example.com")
        with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
            client.pass_(PASSWORD)
        client.quit()
    finally:
        holder.communicate(b"", timeout=10)
    client = pop3.login()
    client.quit()
