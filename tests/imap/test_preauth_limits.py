"""Before login a client gets Dovecot's imap-login limits, not the logged-in ones.

A short idle timeout, three invalid commands, literals of at most 8 KiB (refused without
a ``+`` continuation), and a line without an end that passes the line limit closes the
connection instead of being read to its end.
"""

from __future__ import annotations

import socket

import pytest

from agents.imap.parser import parse_command
from agents.imap.server import Limits
from agents.imap.session import Session
from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE, _run_server, fake_authenticate


@pytest.fixture
def impatient_server(imap_store, tls_files):
    # The pre-login timeout is small so the test needs no long wait; logged in, a minute.
    limits = Limits(max_literal=1024 * 1024, max_line=8192, idle_timeout=60, preauth_timeout=0.2)
    yield from _run_server(imap_store, tls_files, limits=limits)


def _connect(server):
    sock = socket.create_connection((server.host, server.port), timeout=10)
    f = sock.makefile("rwb")
    assert f.readline().startswith(b"* OK")
    return sock, f


@pytest.fixture
def conn(imap_server):
    sock, f = _connect(imap_server)
    with sock:
        yield sock, f


def send(f, data: bytes) -> bytes:
    f.write(data)
    f.flush()
    return f.readline()


def rest(f) -> list[bytes]:
    """Every line until the server closes the connection (the socket timeout bounds the wait)."""
    lines = []
    while line := f.readline():
        lines.append(line)
    return lines


def test_silent_client_before_login_is_dropped_at_the_preauth_timeout(impatient_server):
    sock, f = _connect(impatient_server)
    with sock:
        assert rest(f)[-1].startswith(b"* BYE")


def test_timeout_is_the_short_one_only_before_login(imap_store):
    limits = Limits(idle_timeout=30 * 60)
    assert limits.preauth_timeout == 3 * 60
    session = Session(imap_store.mailbox, fake_authenticate, plaintext_login=True)
    assert limits.timeout(session) == 3 * 60
    assert session.execute(parse_command(f'a LOGIN {ALICE} "{PASSWORD}"'.encode())).lines[-1].startswith(b"a OK")
    assert limits.timeout(session) == 30 * 60


def test_third_invalid_command_before_login_ends_the_session(conn):
    _, f = conn
    assert send(f, b"a FOO\r\n").startswith(b"a BAD")
    assert send(f, b"b SELECT INBOX\r\n").startswith(b"b BAD")  # not allowed before login counts too
    assert send(f, b"c NOOP\r\n").startswith(b"c OK")  # a valid command does not reset the count
    lines = [send(f, b"d (\r\n")] + rest(f)
    assert lines[0].startswith(b"d BAD")
    assert lines[-1].startswith(b"* BYE")


def test_invalid_commands_after_login_are_not_cut_short(conn):
    _, f = conn
    assert send(f, f'l LOGIN {ALICE} "{PASSWORD}"\r\n'.encode()).startswith(b"l OK")
    for tag in (b"a", b"b", b"c", b"d", b"e"):
        assert send(f, tag + b" FOO\r\n").startswith(tag + b" BAD")
    assert send(f, b"z NOOP\r\n").startswith(b"z OK")


def test_literal_over_8_kib_before_login_is_refused_without_continuation(conn):
    _, f = conn
    lines = [send(f, b"a LOGIN {9000}\r\n")] + rest(f)
    assert lines[0].startswith(b"a NO [TOOBIG]")
    assert lines[-1].startswith(b"* BYE")
    assert not any(line.startswith(b"+") for line in lines)


def test_small_literal_before_login_still_gets_a_continuation(conn):
    _, f = conn
    assert send(f, b"a LOGIN {8000}\r\n").startswith(b"+")


def test_endless_line_closes_the_connection_instead_of_being_read_to_its_end(conn):
    sock, f = conn
    f.write(b"a LOGIN " + b"x" * (20 * 1024))  # over the 8 KiB line limit, and no line end follows
    f.flush()
    # The old server kept reading, waiting for the line end, and answered nothing (the read timed out).
    lines = rest(f)
    assert lines == [b"* BAD Line too long\r\n", b"* BYE Line too long\r\n"]
