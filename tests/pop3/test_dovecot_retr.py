"""Differential tests against Dovecot: RETR, TOP and LIST of the same Maildir files, octet for octet.

Each message is written into alice's Maildir as an MDA would (bare LFs, bare CRs, lines that
start with a dot, no final line end, megabytes); our server and Dovecot's ``pop3`` process
(started logged in on a copy of that same Maildir) get the same commands, and every reply must
be equal: status line, dot-stuffed lines and terminator. What RFC 1939 lets differ is normalised:
the text after ``+OK`` on LIST's first line. Messages are matched by their ``X-Case`` field, since
each server numbers the maildrop in its own order. UIDL is compared by form only: the names are
each server's own (ours ``uidvalidity.uid``, docs/pop3.md).
"""

from __future__ import annotations

import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.fakes.dovecot import pop3_preauth

ALICE = "alice@example.com"
BIG_LINES = [b"." * (n % 3) + b"line %d of a large message" % n for n in range(120_000)]

CASES: dict[str, bytes] = {
    "crlf": b"X-Case: crlf\r\nSubject: plain\r\n\r\nHello\r\nWorld\r\n",
    "dot lines": (b"X-Case: dot lines\r\nSubject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\n.\r\n"
                  b"text\r\n.\r\n\r\n..\r\nend .\r\n. space\r\n"),
    "dot after blank": b"X-Case: dot after blank\r\n\r\n.\r\n.body\r\n",
    "header dot": b".X-Dotted: yes\r\nX-Case: header dot\r\n\r\nbody\r\n",
    "bare lf": b"X-Case: bare lf\nSubject: unix\n\nline one\n.dot line\n..\n.\nlast line\n",
    "mixed ends": b"X-Case: mixed ends\r\nSubject: mixed\n\r\nCRLF line\r\nLF line\n.dot LF\n.dot CRLF\r\nend\n",
    "bare cr": b"X-Case: bare cr\r\nSubject: cr\r\n\r\na\rb\r\nc\r\r\n\r.x\r\nend\r\n",
    "no final crlf": b"X-Case: no final crlf\r\nSubject: cut\r\n\r\nfirst\r\n.last",
    "no final lf": b"X-Case: no final lf\nSubject: cut\n\nfirst\n.last",
    "ends in cr": b"X-Case: ends in cr\r\n\r\nbody\r",
    "header only": b"X-Case: header only\r\nSubject: nothing else",
    "empty body": b"X-Case: empty body\r\nSubject: empty\r\n\r\n",
    "long line": b"X-Case: long line\r\n\r\n" + b"x" * 5000 + b"\r\n." + b"y" * 3000 + b"\r\n",
    # The size is a multiple of the page size: the read from the page cache cannot tell it whole.
    "page sized": (lambda head: head + b"z" * (8192 - len(head) - 2) + b"\r\n")(b"X-Case: page sized\r\n\r\n.p\r\n"),
    "large": b"X-Case: large\r\nSubject: big\r\n\r\n" + b"\r\n".join(BIG_LINES) + b"\r\n",
    "large lf": b"X-Case: large lf\nSubject: big\n\n" + b"\n".join(BIG_LINES[:30_000]) + b"\n",
}
TOPS = (0, 1, 3, 100_000)
# Cases where our reply differs from Dovecot's on purpose, and why.
KNOWN = {
    b"header dot": (
        "The message's first line starts with a dot. Dovecot 2.3 sends it unstuffed, so a client takes"
        " '.X-Dotted' for 'X-Dotted' (or a lone '.' for the end); RFC 1939 section 3 stuffs every line that"
        " starts with the termination octet, the first included, and so do we. Otherwise the same octets."),
}
_CASE = re.compile(rb"X-Case: ([^\r\n]+)")


def _script(count: int) -> bytes:
    lines = [b"LIST", b"UIDL"]
    for n in range(1, count + 1):
        lines.append(b"LIST %d" % n)
        lines.append(b"RETR %d" % n)
        lines += [b"TOP %d %d" % (n, top) for top in TOPS]
    lines.append(b"QUIT")
    return b"".join(line + b"\r\n" for line in lines)


def _replies(data: bytes, script: bytes) -> list[tuple[bytes, bytes]]:
    """(command, reply) pairs; a multi-line reply runs to its terminator line."""
    out = []
    pos = 0
    for command in script.split(b"\r\n")[:-1]:
        end = data.index(b"\r\n", pos) + 2
        multi = command in (b"LIST", b"UIDL") or command.split()[0] in (b"RETR", b"TOP")
        if multi and data.startswith(b"+OK", pos):
            end = data.index(b"\r\n.\r\n", end - 2) + 5  # the terminator may follow the status line
        out.append((command, data[pos:end]))
        pos = end
    assert out[-1][1].startswith(b"+OK"), out[-1]  # QUIT's answer (Dovecot's log follows)
    return out


def _by_case(replies: list[tuple[bytes, bytes]]) -> dict[tuple[bytes, bytes], bytes]:
    """{(case, command without its number): reply}; LIST and UIDL of the whole maildrop left out."""
    numbers: dict[bytes, bytes] = {}
    for command, reply in replies:
        if command.startswith(b"RETR "):
            match = _CASE.search(reply)
            assert match, reply[:200]
            numbers[command.split()[1]] = match.group(1)
    out = {}
    for command, reply in replies:
        words = command.split()
        if len(words) > 1:
            out[(numbers[words[1]], b" ".join([words[0], *words[2:]]))] = reply
    return out


def _ours(port: int, script: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"USER " + ALICE.encode() + b"\r\nPASS " + PASSWORD.encode() + b"\r\n")
        chunks = []
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise AssertionError(b"".join(chunks))
            chunks.append(chunk)
            if b"".join(chunks).count(b"\r\n") >= 3:  # greeting, USER, PASS
                break
        head = b"".join(chunks)
        assert head.split(b"\r\n")[2].startswith(b"+OK Logged in"), head
        rest = head.split(b"\r\n", 3)[3]
        sock.sendall(script)
        received = [rest]
        while chunk := sock.recv(1 << 20):
            received.append(chunk)
    return b"".join(received)


@pytest.fixture
def work() -> Iterator[Path]:
    # Not under pytest's tmp_path: its parents are private to root, and Dovecot runs as nobody.
    path = Path(tempfile.mkdtemp(prefix="pop3-dovecot-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _compare(pop3, work: Path) -> None:  # type: ignore[no-untyped-def]
    inbox = pop3.inbox()
    count = inbox.exists
    assert count == len(CASES)
    copy = work / "Maildir"
    for sub in ("cur", "new", "tmp"):
        shutil.copytree(Path(inbox.path) / sub, copy / sub)
    script = _script(count)
    theirs_raw = pop3_preauth(copy, work, script)
    ours_raw = _ours(pop3.port, script)
    theirs, ours = _replies(theirs_raw, script), _replies(ours_raw, script)
    # The whole-maildrop listings: the same sizes in the same form (the texts after +OK may differ).
    (_, our_list), (_, our_uidl) = ours[0], ours[1]
    (_, their_list), (_, their_uidl) = theirs[0], theirs[1]
    assert sorted(our_list.split(b"\r\n")[1:]) == sorted(their_list.split(b"\r\n")[1:])
    assert re.fullmatch(rb"\+OK\r\n(\d+ \d+\.\d+\r\n){%d}\.\r\n" % count, our_uidl), our_uidl
    assert their_uidl.count(b"\r\n") == our_uidl.count(b"\r\n")
    mine, dovecot = _by_case(ours), _by_case(theirs)
    assert mine.keys() == dovecot.keys()
    differ = [key for key in mine if mine[key] != dovecot[key] and key[0] not in KNOWN]
    assert not differ, [(key, mine[key][:300], dovecot[key][:300]) for key in differ[:3]]
    for key in mine:
        if key[0] in KNOWN and key[1] != b"LIST":  # the one named difference, and nothing else
            status, _, rest = dovecot[key].partition(b"\r\n")
            assert mine[key] == status + b"\r\n." + rest, (mine[key][:300], dovecot[key][:300])


def test_files_dropped_by_another_program_are_sent_as_dovecot_sends_them(pop3, work):
    maildir = Path(pop3.store.mailbox(ALICE).path)
    for n, raw in enumerate(CASES.values()):
        (maildir / "new" / f"17000000{n:02d}.M{n}P1.mda").write_bytes(raw)
    _compare(pop3, work)


def test_delivered_messages_are_sent_as_dovecot_sends_them(pop3, work):
    for raw in CASES.values():
        pop3.deliver(ALICE, raw)
    _compare(pop3, work)
