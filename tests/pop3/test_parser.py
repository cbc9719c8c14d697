"""The POP3 command parser: every command, and malformed, oversized and hostile lines."""

from __future__ import annotations

import random

import pytest

from agents.pop3 import parser as p


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"USER alice@example.com\r\n", p.User("alice@example.com")),
        (b"pass secret with spaces\r\n", p.Pass("secret with spaces")),
        (b"PASS  lead\r\n", p.Pass(" lead")),
        (b"STAT\r\n", p.Stat()),
        (b"LIST\r\n", p.List(None)),
        (b"list 3\r\n", p.List(3)),
        (b"UIDL\n", p.Uidl(None)),
        (b"UIDL 12\r\n", p.Uidl(12)),
        (b"RETR 1\r\n", p.Retr(1)),
        (b"TOP 2 0\r\n", p.Top(2, 0)),
        (b"TOP 1 99999999999\r\n", p.Top(1, 999_999_999)),  # beyond any body: the whole message
        (b"TOP 1 " + b"9" * 200 + b"\r\n", p.Top(1, 999_999_999)),
        (b"DELE 7\r\n", p.Dele(7)),
        (b"NOOP\r\n", p.Noop()),
        (b"RSET\r\n", p.Rset()),
        (b"QUIT\r\n", p.Quit()),
        (b"CAPA\r\n", p.Capa()),
        (b"STLS\r\n", p.Stls()),
        (b"AUTH\r\n", p.Auth(None, None)),
        (b"AUTH plain\r\n", p.Auth("PLAIN", None)),
        (b"AUTH PLAIN AGFsaWNlAHB3\r\n", p.Auth("PLAIN", "AGFsaWNlAHB3")),
        (b"AUTH PLAIN =\r\n", p.Auth("PLAIN", "=")),
    ],
)
def test_valid_commands_parse_to_typed_objects(line, command):
    assert p.parse_command(line) == command


@pytest.mark.parametrize(
    "line",
    [
        b"\r\n",
        b"   \r\n",
        b"FOO\r\n",
        b"APOP alice 0123456789abcdef0123456789abcdef\r\n",  # not offered: passwords are hashed
        b"RETRX 1\r\n",
        b"RETR\r\n",
        b"RETR 1 2\r\n",
        b"RETR -1\r\n",
        b"RETR +1\r\n",
        b"RETR 1e3\r\n",
        b"RETR 0x10\r\n",
        b"RETR 99999999999999999999\r\n",
        b"RETR 9999999999\r\n",
        b"TOP 1\r\n",
        b"TOP 1 -2\r\n",
        b"TOP 1 x\r\n",
        b"TOP 1 1e9\r\n",
        b"TOP 1 +5\r\n",
        b"STAT now\r\n",
        b"QUIT please\r\n",
        b"USER\r\n",
        b"USER a b\r\n",
        b"PASS\r\n",
        b"PASS \x00root\r\n",
        b"USER al\x00ice\r\n",
        b"US\x00ER alice\r\n",
        b"USER \xff\xfe\r\n",
        b"USER a\x1bb\r\n",
        b"AUTH PLAIN a b\r\n",
        b"AUTH PL\xc3\xa4IN\r\n",
        b"AUTH " + b"X" * 40 + b"\r\n",
        b"\xff\xfe\xfd\r\n",
        b"LIST 1\r2\r\n",
    ],
)
def test_malformed_lines_raise_command_error(line):
    with pytest.raises(p.CommandError):
        p.parse_command(line)


def test_random_garbage_never_raises_anything_but_command_error():
    rng = random.Random(1939)
    alphabet = b"RETRLISTUIDLTOPAUTHPASS 0123456789\r\n\t\x00\xff."
    for _ in range(3000):
        line = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        try:
            result = p.parse_command(line)
        except p.CommandError:
            continue
        assert isinstance(result, p.Command)
