"""The session dispatches through one command table: every command the parser makes has an entry
that takes the parsed type, and a name without an entry is ``BAD`` (no ``getattr`` lookup)."""

from __future__ import annotations

import pytest

from agents.imap import parser as p
from agents.imap.session import COMMANDS, Session
from tests.imap.conftest import fake_authenticate

SAMPLES = [
    b"a CAPABILITY", b"a NOOP", b"a LOGOUT", b"a ID NIL", b"a STARTTLS", b"a LOGIN u p", b"a AUTHENTICATE PLAIN",
    b"a ENABLE CONDSTORE", b"a NAMESPACE", b"a CREATE x", b"a DELETE x", b"a RENAME x y", b"a SUBSCRIBE x",
    b"a UNSUBSCRIBE x", b'a LIST "" *', b'a LSUB "" *', b"a STATUS x (MESSAGES)", b"a APPEND x {1+}\r\nx",
    b"a GETQUOTAROOT INBOX", b'a GETQUOTA ""', b'a SETQUOTA "" (STORAGE 1)', b"a SELECT x", b"a EXAMINE x",
    b"a CLOSE", b"a UNSELECT", b"a CHECK", b"a IDLE", b"a EXPUNGE", b"a UID EXPUNGE 1", b"a STORE 1 +FLAGS (x)",
    b"a COPY 1 x", b"a MOVE 1 x", b"a FETCH 1 FLAGS", b"a UID FETCH 1 FLAGS", b"a SEARCH ALL",
    b"a SORT (DATE) UTF-8 ALL", b"a UID THREAD REFERENCES UTF-8 ALL", b"a COMPRESS DEFLATE",
    b'a CANCELUPDATE "t1"',
]  # fmt: skip


@pytest.mark.parametrize("line", SAMPLES, ids=lambda line: line.split(b" ")[1].decode())
def test_every_parsed_command_has_an_entry_of_its_type(line):
    cmd = p.parse_command(line)
    assert cmd.name in COMMANDS
    assert isinstance(cmd, COMMANDS[cmd.name].kind)


def test_every_entry_is_reachable_from_the_parser():
    assert {p.parse_command(line).name for line in SAMPLES} == set(COMMANDS)


def test_unknown_names_and_mistyped_commands_are_bad(imap_store):
    session = Session(imap_store.mailbox, fake_authenticate, plaintext_login=True)
    assert session.execute(p.Command("t", "FROB")).lines == [b"t BAD Unknown command\r\n"]
    # A LOGIN that is not a parsed Login is refused by the table's type check, not run with missing fields.
    assert session.execute(p.Command("u", "LOGIN")).lines == [b"u BAD Unknown command\r\n"]
    assert session.state == "nonauth"
