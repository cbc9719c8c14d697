"""IDLE: a delivery through agents.store or a change by another session wakes an idling client within 2 s."""

import socket
import time

from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE, message


def _idling(imap_server):
    sock = socket.create_connection((imap_server.host, imap_server.port), timeout=5)
    f = sock.makefile("rwb")
    f.readline()
    f.write(f'a LOGIN {ALICE} "{PASSWORD}"\r\nb SELECT INBOX\r\n'.encode())
    f.flush()
    while not f.readline().startswith(b"b OK"):
        pass
    f.write(b"c IDLE\r\n")
    f.flush()
    assert f.readline().startswith(b"+ ")
    return sock, f


def test_idle_wakes_on_delivery_within_two_seconds(imap_server):
    sock, f = _idling(imap_server)
    with sock:
        started = time.monotonic()
        imap_server.deliver(message("wake up"))
        sock.settimeout(2.0)
        line = f.readline()
        assert line == b"* 1 EXISTS\r\n" and time.monotonic() - started < 2.0
        f.write(b"DONE\r\n")
        f.flush()
        while not (line := f.readline()).startswith(b"c "):
            pass
        assert line.startswith(b"c OK")


def test_idle_wakes_on_other_sessions_flag_change(imap_server):
    imap_server.deliver(message("watched"))
    sock, f = _idling(imap_server)
    with sock:
        other = imap_server.login()
        other.select("INBOX")
        other.store("1", "+FLAGS", "\\Flagged")
        sock.settimeout(2.0)
        assert b"FETCH" in f.readline()


def test_idle_ends_on_garbage_with_bad(imap_server):
    sock, f = _idling(imap_server)
    with sock:
        f.write(b"NOT DONE\r\n")
        f.flush()
        assert f.readline().startswith(b"c BAD")
