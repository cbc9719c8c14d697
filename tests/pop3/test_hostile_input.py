"""Malformed, oversized and hostile input over a real socket: -ERR, never a crash or a hang."""

from __future__ import annotations

import base64
import random

from tests.conftest import PASSWORD


def test_overlong_command_line_gets_err_and_the_session_goes_on(raw_session):
    raw = raw_session()
    assert raw.command(b"USER " + b"a" * 300).startswith(b"-ERR line too long")
    assert raw.command(b"CAPA").startswith(b"+OK")
    raw.multiline()
    assert raw.command(b"QUIT").startswith(b"+OK")


def test_a_megabyte_without_line_end_is_refused_with_bounded_memory(raw_session):
    raw = raw_session()
    raw.send(b"X" * (1 << 20))
    raw.send(b"\r\nNOOP\r\n")
    assert raw.readline().startswith(b"-ERR line too long")
    assert raw.readline().startswith(b"-ERR")  # NOOP is not allowed before login, but it is answered


def test_nul_bytes_binary_and_unknown_commands_get_err(raw_session):
    raw = raw_session()
    for line in (b"USER al\x00ice", b"\xff\xfe\xfd\xfc", b"APOP alice 1234", b"RETR 1 1", b"LIST -5", b"\x1b[2J"):
        assert raw.command(line).startswith(b"-ERR")
    raw.send(b"CAPA\r\n")
    assert raw.readline().startswith(b"+OK")


def test_too_many_errors_hangs_up(raw_session):
    raw = raw_session()
    raw.send(b"BOGUS\r\n" * 40)
    replies = [raw.readline() for _ in range(41)]  # one per command, then the end of the connection
    assert b"-ERR too many errors, closing\r\n" in replies
    assert replies[-1] == b"", "the server hung up"


def test_random_garbage_never_kills_the_server(pop3, raw_session):
    rng = random.Random(2449)
    for _ in range(5):
        raw = raw_session()
        raw.send(bytes(rng.randrange(256) for _ in range(4000)) + b"\r\nQUIT\r\n")
        for _ in range(200):
            if raw.readline() in (b"", ):
                break
    client = pop3.login()
    client.quit()


def test_sasl_continuation_oversized_or_garbage(raw_session):
    raw = raw_session()
    assert raw.command(b"AUTH PLAIN") == b"+ \r\n"
    assert raw.command(b"A" * 5000).startswith(b"-ERR")
    assert raw.command(b"AUTH PLAIN") == b"+ \r\n"
    assert raw.command(b"\xff\xfe").startswith(b"-ERR")
    assert raw.command(b"AUTH PLAIN") == b"+ \r\n"
    token = base64.b64encode(b"\0alice@example.com\0" + PASSWORD.encode())
    assert raw.command(token).startswith(b"+OK")


def test_pipelined_commands_are_all_answered_in_order(pop3, raw_session):
    pop3.deliver("alice@example.com", b"Subject: p\r\n\r\nbody\r\n")
    raw = raw_session()
    raw.send(b"USER alice@example.com\r\nPASS " + PASSWORD.encode() + b"\r\nSTAT\r\nUIDL\r\nRETR 1\r\nNOOP\r\nQUIT\r\n")
    assert raw.readline().startswith(b"+OK")
    assert raw.readline().startswith(b"+OK")
    assert raw.readline().startswith(b"+OK 1 ")
    assert raw.readline() == b"+OK\r\n" and len(raw.multiline()) == 1
    assert raw.readline().startswith(b"+OK") and raw.multiline()[-1] == b"body\r\n"
    assert raw.readline() == b"+OK\r\n"
    assert raw.readline().startswith(b"+OK")


def test_idle_client_is_disconnected(pop3, raw_session):
    pop3.server.config.idle_timeout = 0.3
    raw = raw_session()
    raw.sock.settimeout(5)
    assert b"idle timeout" in raw.readline()
    assert raw.readline() == b""


def test_half_open_client_does_not_hold_the_lock_forever(pop3):
    import poplib
    import time

    pop3.server.config.idle_timeout = 1.0
    first = pop3.login()  # then goes silent without QUIT
    for _ in range(80):  # the idle session times out after about 1 s; allow a busy machine 8 s
        time.sleep(0.1)
        try:
            client = pop3.login()
        except poplib.error_proto as exc:
            assert b"IN-USE" in exc.args[0]
            continue
        client.quit()
        break
    else:
        raise AssertionError("the idle session kept the maildrop locked")
    first.close()
