"""MULTIAPPEND (RFC 3502): several messages in one APPEND, stored all or none, APPENDUID naming every UID;
the same script answered like Dovecot."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import dovecot

from .conftest import ALICE, message
from .test_dovecot_extensions import answers, converse
from .wire import fetches


def _literal(data: bytes) -> str:
    return f"{{{len(data)}+}}\r\n{data.decode()}"


MESSAGES = [message("one"), message("two", body="second\r\n"), message("three", body="third\r\n" * 3)]
MULTI = ("APPEND INBOX (\\Seen) " + _literal(MESSAGES[0]) + ' (\\Flagged $Work) "01-Feb-2026 10:00:00 +0100" '
         + _literal(MESSAGES[1]) + " " + _literal(MESSAGES[2]))


@pytest.fixture
def reference() -> Iterator[dovecot.Dovecot]:
    from tests.conftest import PASSWORD

    server = dovecot.start({ALICE: PASSWORD})
    yield server
    server.stop()


def _instant(value: bytes) -> datetime:
    return datetime.strptime(value.decode().strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)


def _comparable(transcript: bytes, stamped: frozenset[int] = frozenset(),
                during: tuple[datetime, datetime] | None = None) -> dict:
    """FETCH data with the differences taken out that belong to other work, not to MULTIAPPEND:
    INTERNALDATE as an instant (the store keeps UTC seconds, so the zone an APPEND gave comes back
    as +0000, and the day is space-padded where Dovecot writes 2 digits: RFC 3501 allows both), and
    no \\Recent (Dovecot gives a session the messages it appended itself while selected as recent;
    \\Recent is the subject of separate work on issue 16).

    The messages ``stamped`` were appended with no date, so each server chose "now" (RFC 3501
    §6.3.11): their INTERNALDATE is only checked to lie within ``during`` (that server's conversation),
    since the two conversations run one after the other and, on a busy machine, seconds apart.
    """
    out = fetches(transcript)
    for number, data in out.items():
        data["INTERNALDATE"] = _instant(data["INTERNALDATE"])
        if number in stamped and during is not None and during[0] <= data["INTERNALDATE"] <= during[1]:
            data["INTERNALDATE"] = "the time of the APPEND"
        data["FLAGS"] = sorted(f for f in data["FLAGS"] if f != "\\Recent")
    return out


def _timed(run: Callable[..., bytes], *args: object) -> tuple[tuple[datetime, datetime], bytes]:
    """What ``run`` returned, and the whole seconds it ran within (INTERNALDATE has no fractions)."""
    start = datetime.now(UTC).replace(microsecond=0)
    out = run(*args)
    return (start, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)), out


def _appenduid(answer: tuple[str, str, list[bytes]], transcript: bytes, tag: str) -> str:
    m = re.search(tag.encode() + rb" OK \[APPENDUID \d+ ([0-9:,]+)\]", transcript)
    return m.group(1).decode() if m else ""


def test_multiappend_stores_all_with_every_uid(imap_server):
    out = converse(imap_server.port, [MULTI, "FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])"])
    assert _appenduid(answers(out, ["t000"])["t000"], out, "t000") == "1:3"
    data = fetches(out)
    assert [d["BODY[HEADER.FIELDS (SUBJECT)]"] for d in data.values()] == [
        b"Subject: one\r\n\r\n", b"Subject: two\r\n\r\n", b"Subject: three\r\n\r\n"]
    assert "\\Seen" in data[1]["FLAGS"] and "$Work" in data[2]["FLAGS"]
    assert _instant(data[2]["INTERNALDATE"]) == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("bad", [
    "APPEND INBOX " + _literal(MESSAGES[0]) + " {0+}\r\n",  # an empty message among them
    "APPEND INBOX " + _literal(MESSAGES[0]) + " (\\Bogus) " + _literal(MESSAGES[1]),  # a bad flag
    "APPEND Nowhere " + _literal(MESSAGES[0]) + " " + _literal(MESSAGES[1]),  # no such folder
])
def test_multiappend_is_all_or_nothing(imap_server, bad):
    out = converse(imap_server.port, [bad, "STATUS INBOX (MESSAGES UIDNEXT)"])
    assert answers(out, ["t000"])["t000"][0] in ("NO", "BAD")
    assert b"(MESSAGES 0 UIDNEXT 1)" in out


def test_multiappend_like_dovecot(imap_server, reference):
    script = [MULTI, "APPEND INBOX " + _literal(MESSAGES[0]) + " {0+}\r\n", "APPEND Nowhere " + _literal(MESSAGES[0]),
              "NOOP", "FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"]
    our_time, ours = _timed(converse, imap_server.port, script)
    their_time, theirs = _timed(converse, reference.imap_port, script)
    tags = [f"t{i:03d}" for i in range(len(script))]
    our_answers, their_answers = answers(ours, tags), answers(theirs, tags)
    for tag in tags:
        assert our_answers[tag][:2] == their_answers[tag][:2], tag
    assert _appenduid(our_answers["t000"], ours, "t000") == _appenduid(their_answers["t000"], theirs, "t000") == "1:3"
    undated = frozenset({1, 3})  # MULTI gives a date to its second message only
    assert _comparable(ours, undated, our_time) == _comparable(theirs, undated, their_time)
