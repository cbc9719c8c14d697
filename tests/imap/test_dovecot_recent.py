"""\\Recent and keyword announcements across sessions, compared with Dovecot (RFC 3501 §2.3.2, §7.2.6).

The same mailbox contents and the same script of commands, played by several sessions at once
against our server and against a Dovecot daemon; each step's responses must be equal after
``conversation.normalise``. Every difference that stays is in ``KNOWN`` with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD
from tests.fakes import dovecot

from .conftest import ALICE, message
from .conversation import Step, run

MSG = message("recent", "body\r\n")
IGNORE = (b"* OK [HIGHESTMODSEQ", b"* OK [NOMODSEQ")  # ours always sends HIGHESTMODSEQ (RFC 7162 allows it)


@pytest.fixture
def reference() -> Iterator[dovecot.Dovecot]:
    server = dovecot.start({"alice": PASSWORD}, extra=dovecot.SLASH_NAMESPACE)
    try:
        yield server
    finally:
        server.stop()


def both(imap_server, reference: dovecot.Dovecot, names: list[str], steps: list[Step], count: int = 2):
    for i in range(count):
        imap_server.deliver(MSG)
        reference.add_message("alice", MSG.replace(b"\r\n", b"\n"), f"100000000{i}.M{i}P1.test")
    ours = run(imap_server.host, imap_server.port, (ALICE, PASSWORD), names, steps, IGNORE)
    theirs = run("127.0.0.1", reference.imap_port, ("alice", PASSWORD), names, steps, IGNORE)
    return ours, theirs


def compare(steps: list[Step], ours: list, theirs: list, known: dict[int, str] | None = None) -> None:
    known = known or {}
    differences = [f"step {i} {steps[i][:2]}:\n  ours:    {o}\n  Dovecot: {t}"
                   for i, (o, t) in enumerate(zip(ours, theirs, strict=True)) if o != t and i not in known]
    assert not differences, "\n".join(differences)
    stale = [i for i in known if ours[i] == theirs[i]]
    assert not stale, f"listed as known differences but now equal: {stale}"


RECENT: list[Step] = [
    ("a", "EXAMINE INBOX"),
    ("a", "FETCH 1:* (FLAGS)"),
    ("c", "STATUS INBOX (MESSAGES RECENT UNSEEN)"),
    ("b", "SELECT INBOX"),
    ("b", "FETCH 1:* (FLAGS)"),
    ("c", "STATUS INBOX (RECENT)"),
    ("c", "APPEND INBOX", MSG),
    ("c", "STATUS INBOX (MESSAGES RECENT)"),
    ("b", "NOOP"),
    ("b", "FETCH 1:* (FLAGS)"),
    ("c", "STATUS INBOX (RECENT)"),
    ("a", "NOOP"),
    ("a", "FETCH 1:* (FLAGS)"),
    ("c", "SELECT INBOX"),
    ("c", "FETCH 1:* (FLAGS)"),
    ("c", "COPY 1:2 INBOX"),
    ("c", "FETCH 1:* (FLAGS)"),
    ("b", "NOOP"),
    ("b", "FETCH 1:* (FLAGS)"),
    ("b", "STORE 1,4 +FLAGS.SILENT (\\Deleted)"),
    ("b", "EXPUNGE"),
    ("c", "NOOP"),
    ("a", "NOOP"),
    ("c", "FETCH 1:* (FLAGS)"),
    ("b", "SEARCH RECENT"),
    ("c", "SEARCH RECENT"),
    ("d", "STATUS INBOX (MESSAGES RECENT)"),
]


def test_recent_across_sessions_is_dovecots(imap_server, reference):
    ours, theirs = both(imap_server, reference, ["a", "b", "c", "d"], RECENT)
    compare(RECENT, ours, theirs)


KEYWORDS: list[Step] = [
    ("a", "SELECT INBOX"),
    ("b", "SELECT INBOX"),
    ("e", "EXAMINE INBOX"),
    ("b", "STORE 1 +FLAGS ($Label1)"),
    ("a", "NOOP"),
    ("e", "NOOP"),
    ("a", "FETCH 1:* (FLAGS)"),
    ("b", "STORE 2 +FLAGS.SILENT (work $Label2)"),
    ("a", "FETCH 2 (FLAGS)"),
    ("a", "UID FETCH 2 (FLAGS)"),
    ("c", "APPEND INBOX (fresh)", MSG),
    ("a", "NOOP"),
    ("e", "NOOP"),
    ("a", "FETCH 1:* (FLAGS)"),
    ("a", "STORE 3 FLAGS (\\Seen)"),
    ("b", "NOOP"),
    ("d", "SELECT INBOX"),
]


def test_keywords_are_announced_like_dovecot(imap_server, reference):
    ours, theirs = both(imap_server, reference, ["a", "b", "c", "d", "e"], KEYWORDS)
    compare(KEYWORDS, ours, theirs)
