"""CATENATE (RFC 4469): APPEND of a message put together from text and URLs of messages already stored,
compared with Dovecot; URLs that do not resolve are refused with BADURL and store nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD
from tests.fakes import dovecot

from .conftest import ALICE
from .test_dovecot_extensions import _binary_message, _fill, answers, converse
from .wire import fetches

FIRST = (b"From: a@b.example\r\nSubject: first\r\nMessage-ID: <c1@x>\r\n\r\nbody of the first\r\n")


@pytest.fixture
def reference() -> Iterator[dovecot.Dovecot]:
    server = dovecot.start({ALICE: PASSWORD})
    yield server
    server.stop()


def _text(data: bytes) -> str:
    return f"TEXT {{{len(data)}+}}\r\n{data.decode()}"


def _script(uidvalidity: str) -> list[str]:
    good = [
        f'APPEND INBOX CATENATE (URL "/INBOX;UIDVALIDITY={uidvalidity}/;UID=1/;SECTION=HEADER" '
        + _text(b"appended body\r\n") + ")",
        'APPEND INBOX (\\Seen) CATENATE (' + _text(b"Subject: parts\r\n\r\n") + ' URL "/INBOX/;UID=2/;SECTION=1"'
        + ' URL "/INBOX/;UID=2/;SECTION=4" URL "/inbox/;UID=1/;SECTION=TEXT/;PARTIAL=5.6")',
    ]
    bad = [
        'APPEND INBOX CATENATE (URL "/INBOX/;UID=99")',
        'APPEND INBOX CATENATE (URL "/INBOX;UIDVALIDITY=1/;UID=1")',
        'APPEND INBOX CATENATE (URL "/Nowhere/;UID=1")',
    ]
    return [*good, *bad, "FETCH 3:* (FLAGS RFC822.SIZE BODY.PEEK[])", "STATUS INBOX (MESSAGES)"]


def _uidvalidity(port: int) -> str:
    out = converse(port, [])
    m = re.search(rb"UIDVALIDITY (\d+)", out)
    assert m
    return m.group(1).decode()


def test_catenate_like_dovecot(imap_server, reference):
    _fill(imap_server, reference, [(FIRST, 0), (_binary_message(), 1)])
    ours = converse(imap_server.port, _script(_uidvalidity(imap_server.port)))
    theirs = converse(reference.imap_port, _script(_uidvalidity(reference.imap_port)))
    tags = [f"t{i:03d}" for i in range(7)]
    our_answers, their_answers = answers(ours, tags), answers(theirs, tags)
    for tag in tags[:-1]:
        assert our_answers[tag][:2] == their_answers[tag][:2], (tag, our_answers[tag], their_answers[tag])
    # STATUS of the selected folder: Dovecot adds [CLIENTBUG] (RFC 9051 advises against it); not CATENATE's matter
    assert our_answers["t006"][0] == their_answers["t006"][0] == "OK"
    assert [our_answers[t][:2] for t in tags[:5]] == [("OK", "APPENDUID"), ("OK", "APPENDUID"), ("NO", "BADURL"),
                                                     ("NO", "BADURL"), ("NO", "BADURL")]
    strip = [{k: sorted(f for f in v if f != "\\Recent") if k == "FLAGS" else v for k, v in d.items()}
             for d in fetches(ours).values()], [
        {k: sorted(f for f in v if f != "\\Recent") if k == "FLAGS" else v for k, v in d.items()}
        for d in fetches(theirs).values()]  # \Recent after an APPEND into the selected folder: see test_multiappend
    assert strip[0] == strip[1]
    first = fetches(ours)[3]["BODY[]"]
    assert first == b"From: a@b.example\r\nSubject: first\r\nMessage-ID: <c1@x>\r\n\r\nappended body\r\n"
    assert b"(MESSAGES 4)" in ours
