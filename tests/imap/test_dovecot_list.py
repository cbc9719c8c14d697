"""LIST, LSUB, LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) compared with Dovecot.

Both servers start with INBOX and the special-use folders subscribed (Dovecot configured as
our store behaves: ``auto = subscribe`` and ``special_use``), get the same CREATE/SUBSCRIBE
script, then the same LIST commands; each answer must be equal after normalising
(``conversation.normalise``: order of responses, quoting of names, texts).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD
from tests.fakes import dovecot

from .conftest import ALICE, message
from .conversation import Step, run

MIRROR = """namespace inbox {
  inbox = yes
  separator = /
  mailbox INBOX {
    auto = subscribe
  }
  mailbox Sent {
    auto = subscribe
    special_use = \\Sent
  }
  mailbox Drafts {
    auto = subscribe
    special_use = \\Drafts
  }
  mailbox Junk {
    auto = subscribe
    special_use = \\Junk
  }
  mailbox Trash {
    auto = subscribe
    special_use = \\Trash
  }
}
"""
SETUP: list[Step] = [
    ("a", "CREATE work/projects/alpha"),
    ("a", "CREATE work/notes"),
    ("a", "CREATE lone"),
    ("a", "CREATE parent/child"),
    ("a", "SUBSCRIBE work/projects/alpha"),
    ("a", "SUBSCRIBE parent/child"),
    ("a", "SUBSCRIBE lone"),
    ("a", "SUBSCRIBE work/notes"),
    ("a", "UNSUBSCRIBE work/notes"),
    ("a", "DELETE lone"),
    ("a", "APPEND INBOX (\\Seen)", message("one")),
    ("a", "APPEND INBOX", message("two")),
]
LISTS = [
    'LIST "" *',
    'LIST "" %',
    'LIST "" work/%',
    'LIST "" ""',
    'LSUB "" *',
    'LSUB "" %',
    'LSUB "" parent/%',
    'LSUB "" work/%',
    'LIST (SUBSCRIBED) "" *',
    'LIST (SUBSCRIBED) "" %',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" %',
    'LIST (SUBSCRIBED RECURSIVEMATCH) "" work/%',
    'LIST (RECURSIVEMATCH) "" ""',
    'LIST (RECURSIVEMATCH) "" *',
    'LIST (REMOTE RECURSIVEMATCH) "" *',
    'LIST (REMOTE) "" %',
    'LIST () "" %',
    'LIST "" (INBOX work/*)',
    'LIST "" * RETURN (SUBSCRIBED)',
    'LIST "" % RETURN (CHILDREN)',
    'LIST "" * RETURN ()',
    'LIST (SPECIAL-USE) "" *',
    'LIST "" * RETURN (SPECIAL-USE)',
    'LIST (SUBSCRIBED) "" * RETURN (CHILDREN)',
    'LIST "" % RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))',
    'LIST (SUBSCRIBED) "" * RETURN (STATUS (MESSAGES))',
    'LIST "" INBOX RETURN (STATUS (MESSAGES RECENT SIZE))',
    'LIST "" % RETURN (BOGUS)',
    'LIST (BOGUS) "" %',
    'LIST "work/" %',
    'LIST "" inbox',
    'LIST "" nothing*',
]
KNOWN: dict[str, str] = {}


@pytest.fixture
def reference() -> Iterator[dovecot.Dovecot]:
    server = dovecot.start({"alice": PASSWORD}, extra=MIRROR)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("command", LISTS)
def test_list_like_dovecot(imap_server, reference, command):
    steps: list[Step] = [*SETUP, ("a", command)]
    ours = run(imap_server.host, imap_server.port, (ALICE, PASSWORD), ["a"], steps)
    theirs = run("127.0.0.1", reference.imap_port, ("alice", PASSWORD), ["a"], steps)
    assert ours[: len(SETUP)] == theirs[: len(SETUP)]
    if command in KNOWN:
        assert ours[-1] != theirs[-1], f"listed as a known difference but now equal: {command}"
        return
    assert ours[-1] == theirs[-1], f"\n  ours:    {ours[-1]}\n  Dovecot: {theirs[-1]}"
