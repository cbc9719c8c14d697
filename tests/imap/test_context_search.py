"""CONTEXT=SEARCH (RFC 5267): SEARCH RETURN (UPDATE) results kept up to date with ADDTO and REMOVEFROM as
another session appends, flags and expunges; PARTIAL; CANCELUPDATE. Compared with Dovecot, two sessions
each, step by step."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD
from tests.fakes import dovecot

from .conftest import ALICE
from .test_dovecot_extensions import _fill

NEW = b"Subject: x new\r\n\r\nbody\r\n"
APPEND = f"APPEND INBOX {{{len(NEW)}+}}\r\n{NEW.decode()}"
# (session, command): session 0 keeps searches up to date, session 1 changes the folder.
STEPS = [
    (0, "SEARCH RETURN (UPDATE) SUBJECT x"),
    (0, "UID SEARCH RETURN (UPDATE COUNT) UNSEEN"),
    (0, "SEARCH RETURN (PARTIAL 1:2) ALL"),
    (0, "SEARCH RETURN (PARTIAL 5:9) ALL"),
    (0, "SEARCH RETURN (PARTIAL 2:3 COUNT MIN) ALL"),
    (0, "SEARCH RETURN (CONTEXT ALL) ALL"),
    (0, "SEARCH RETURN (UPDATE SAVE) FLAGGED"),
    (1, APPEND),
    (0, "NOOP"),
    (1, "STORE 1 +FLAGS (\\Seen)"),
    (0, "NOOP"),
    (1, "STORE 2:3 +FLAGS (\\Deleted \\Flagged)"),
    (0, "NOOP"),
    (1, "EXPUNGE"),
    (0, "NOOP"),
    (0, 'CANCELUPDATE "t000"'),
    (0, 'CANCELUPDATE "nosuch"'),
    (1, APPEND),
    (0, "NOOP"),
]


@pytest.fixture
def reference() -> Iterator[dovecot.Dovecot]:
    server = dovecot.start({ALICE: PASSWORD})
    yield server
    server.stop()


def _session(port: int) -> tuple[socket.socket, bytearray]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    out = bytearray()
    for line in (f'l LOGIN "{ALICE}" "{PASSWORD}"', "s SELECT INBOX"):
        _say(sock, out, line)
    return sock, out


def _say(sock: socket.socket, out: bytearray, line: str) -> None:
    tag = line.split(" ", 1)[0].encode()
    sock.sendall(line.encode() + b"\r\n")
    done = re.compile(rb"(?:^|\r\n)" + re.escape(tag) + rb" (?:OK|NO|BAD)[^\r\n]*\r\n")
    start = len(out)
    for _ in range(10_000):
        if done.search(out, max(0, start - 2)):
            return
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    raise AssertionError("no answer")


def _run(port: int) -> dict[str, tuple[str, list[bytes]]]:
    """Per step tag: the tagged status (and code) and the ESEARCH lines session 0 got with it."""
    sessions = [_session(port), _session(port)]
    answers = {}
    try:
        for i, (who, command) in enumerate(STEPS):
            sock, out = sessions[who]
            start = len(out)
            tag = f"t{i:03d}"
            _say(sock, out, f"{tag} {command}")
            if who == 0:
                text = bytes(out[start:])
                status = re.search(rb"^" + tag.encode() + rb" (OK|NO|BAD)(?: \[([A-Z]+))?", text, re.M)
                assert status
                lines = [line for line in text.split(b"\r\n") if line.startswith(b"* ESEARCH")]
                answers[tag] = (f"{status.group(1).decode()} {(status.group(2) or b'').decode()}", lines)
    finally:
        for sock, _out in sessions:
            sock.close()
    return answers


def test_context_search_like_dovecot(imap_server, reference):
    corpus = [(f"Subject: x{i}\r\n\r\nbody\r\n".encode(), i) for i in range(3)]
    _fill(imap_server, reference, corpus)
    ours, theirs = _run(imap_server.port), _run(reference.imap_port)
    differences = [f"{STEPS[int(t[1:])][1]}:\n  ours:    {ours[t]}\n  Dovecot: {theirs[t]}" for t in theirs
                   if ours.get(t) != theirs[t]]
    assert not differences, "\n".join(differences)
    told = b"\n".join(line for _, lines in ours.values() for line in lines)
    assert b"ADDTO" in told and b"REMOVEFROM" in told  # the script does exercise updates



def test_kept_searches_are_limited(imap_server):
    from agents.imap.selected import MAX_UPDATE_CONTEXTS

    sock, out = _session(imap_server.port)
    try:
        for i in range(MAX_UPDATE_CONTEXTS):
            _say(sock, out, f"k{i} SEARCH RETURN (UPDATE) ALL")
        _say(sock, out, "k0 SEARCH RETURN (UPDATE) UNSEEN")  # the same tag again replaces its search
        _say(sock, out, "over SEARCH RETURN (UPDATE) ALL")
        _say(sock, out, "plain SEARCH RETURN (COUNT) ALL")
    finally:
        sock.close()
    assert b'over NO [NOUPDATE "over"]' in out
    assert b"k0 OK" in out and b"plain OK" in out
