"""Hostile input is refused with BAD/NO (never a crash or a hang): huge literals, unbalanced parentheses,
``../`` folder names, another user's folder, garbage bytes, 1 MB lines."""

import os
import socket

import pytest

from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE, BOB, message


@pytest.fixture
def conn(imap_server):
    sock = socket.create_connection((imap_server.host, imap_server.port), timeout=5)
    f = sock.makefile("rwb")
    assert f.readline().startswith(b"* OK")
    yield sock, f
    f.close()
    sock.close()


def send(f, data: bytes) -> bytes:
    f.write(data)
    f.flush()
    return f.readline()


def login(f):
    assert send(f, f'l LOGIN {ALICE} "{PASSWORD}"\r\n'.encode()).startswith(b"l OK")


def test_huge_literal_refused_before_reading(conn):
    _, f = conn
    login(f)
    assert send(f, b"a APPEND INBOX {999999999}\r\n").startswith(b"a NO [TOOBIG]")
    assert send(f, b"b NOOP\r\n").startswith(b"b OK")  # the session goes on


def test_huge_nonsync_literal_closes_connection(conn):
    _, f = conn
    login(f)
    assert send(f, b"a APPEND INBOX {999999999+}\r\n").startswith(b"a NO [TOOBIG]")
    assert f.readline().startswith(b"* BYE")


def test_preauth_literal_is_small(conn):
    _, f = conn
    assert send(f, b"a LOGIN {1000000}\r\n").startswith(b"a NO [TOOBIG]")


def test_unbalanced_parentheses_are_bad(conn):
    _, f = conn
    login(f)
    send(f, b"s SELECT INBOX\r\n")
    while not f.readline().startswith(b"s OK"):
        pass
    for line in (b"a FETCH 1 (FLAGS\r\n", b"a FETCH 1 FLAGS)\r\n", b"a SEARCH ((((ALL\r\n",
                 b"a FETCH 1 " + b"(" * 500 + b"\r\n", b"a FETCH 1 BODY[HEADER.FIELDS (FROM]\r\n"):
        assert send(f, line).startswith(b"a BAD")


def test_dotdot_folder_names_refused(conn, imap_server):
    _, f = conn
    login(f)
    for name in (b"../bob", b"Foo/../../x", b"..", b"/etc"):
        reply = send(f, b'a CREATE "' + name + b'"\r\n')
        assert reply.startswith((b"a NO", b"a BAD")), reply
        reply = send(f, b'b SELECT "' + name + b'"\r\n')
        assert reply.startswith((b"b NO", b"b BAD")), reply
    assert not (imap_server.store.root / "example.com" / "x").exists() if hasattr(imap_server.store, "root") else True


def test_other_users_folders_are_unreachable(conn, imap_server):
    imap_server.deliver(message("for bob only"), user=BOB)
    bob_folders = {f.name for f in imap_server.store.mailbox(BOB).list_folders()}
    _, f = conn
    login(f)
    f.write(b'a LIST "" "*"\r\n')
    f.flush()
    lines = []
    while not (line := f.readline()).startswith(b"a "):
        lines.append(line)
    assert not any(b"bob" in line for line in lines)
    for name in (b"bob@example.com/INBOX", b"~bob/INBOX", b"../bob/INBOX", b"#users/bob/INBOX"):
        assert send(f, b'b SELECT "' + name + b'"\r\n').startswith((b"b NO", b"b BAD"))
    assert {f.name for f in imap_server.store.mailbox(BOB).list_folders()} == bob_folders


def test_garbage_bytes_get_bad_then_bye(conn):
    sock, f = conn
    rng = os.urandom(4000).replace(b"\n", b"x")
    for i in range(0, 4000, 200):
        f.write(rng[i : i + 200] + b"\r\n")
    f.flush()
    replies = []
    while line := f.readline():
        replies.append(line)
        if line.startswith(b"* BYE"):
            break
    assert replies and replies[-1].startswith(b"* BYE")
    assert all(b" BAD " in r or r.startswith((b"* BAD", b"* BYE", b"+ ")) or b" NO " in r for r in replies)


def test_line_over_the_limit_is_refused_and_closes_the_connection(conn):
    _, f = conn
    login(f)
    f.write(b"a NOOP " + b"x" * (16 * 1024) + b"\r\n")
    f.flush()
    assert f.readline().startswith(b"* BAD")
    assert f.readline().startswith(b"* BYE")


def test_commands_in_wrong_state_are_bad(conn):
    _, f = conn
    assert send(f, b"a FETCH 1 FLAGS\r\n").startswith(b"a BAD")
    assert send(f, b"a SELECT INBOX\r\n").startswith(b"a BAD")
    login(f)
    assert send(f, b"* NOOP\r\n").startswith(b"* BAD")
    assert send(f, b"\r\n").startswith(b"* BAD")
