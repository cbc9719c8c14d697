"""MIME bombs cost the sender, not the server: parts and depth are capped when the structure is summarised.

Each case is decided by what the client gets back (a bounded BODYSTRUCTURE, the message's own
ENVELOPE, a tagged OK), never by how long it took.
"""

from __future__ import annotations

import json
import logging

from agents.store import mimetree
from tests.conftest import PASSWORD

from .conftest import ALICE
from .wire import fetches, run_script


def many_parts(count: int = 100_000) -> bytes:
    """About 1.2 MB with CRLF: ``count`` empty parts (issue 19: 7.2 MiB of BODYSTRUCTURE, 8-10 s of CPU)."""
    head = (b"From: a@example.net\r\nTo: alice@example.com\r\nSubject: many parts\r\n"
            b"Content-Type: multipart/mixed; boundary=bomb\r\n\r\n")
    return head + b"--bomb\r\n\r\n\r\n" * count + b"--bomb\r\nContent-Type: text/plain\r\n\r\nneedle\r\n--bomb--\r\n"


def nested_multiparts(depth: int = 10_000) -> bytes:
    head = b"From: a@example.net\r\nTo: alice@example.com\r\nSubject: deep multipart\r\n"
    levels = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(depth))
    return head + levels + b"Content-Type: text/plain\r\n\r\nleaf\r\n"


def nested_messages(depth: int = 1_000) -> bytes:
    head = (b"From: a@example.net\r\nTo: alice@example.com\r\nSubject: deep messages\r\n"
            b"Content-Type: message/rfc822\r\n\r\n")
    levels = b"".join(b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % i for i in range(depth))
    return head + levels + b"Subject: inner\r\n\r\nleaf\r\n"


def _session(imap_server, raw: bytes, script: bytes) -> bytes:
    imap_server.deliver(raw)
    return run_script(imap_server.host, imap_server.port, (ALICE, PASSWORD), b"s SELECT INBOX\r\n" + script)


def _depth(structure: object) -> int:
    """Nesting of parts in a cached BODYSTRUCTURE (iterative)."""
    deepest, stack = 0, [(structure, 1)]
    while stack:
        node, level = stack.pop()
        if not isinstance(node, dict):
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node.get("parts", []))
        if "body" in node:
            stack.append((node["body"], level + 1))
    return deepest


def test_a_hundred_thousand_parts_give_a_bounded_bodystructure(imap_server):
    raw = many_parts()
    assert len(raw) > 1_200_000
    out = _session(imap_server, raw, b"f FETCH 1 (ENVELOPE BODYSTRUCTURE)\r\ng SEARCH TEXT needle\r\n"
                                      b"h SEARCH SUBJECT \"many parts\"\r\n")
    assert b"\r\nf OK" in out and b"\r\ng OK" in out, out[-300:]
    data = fetches(out)[1]
    parts = data["BODYSTRUCTURE"][:-5]  # the parts, then subtype and the extension data
    assert len(parts) == mimetree.MAX_PARTS - 1  # the root counts as one
    assert len(out) < 1_000_000  # was 7.2 MiB: about 75 octets per part, and no more parts than the cap
    assert data["ENVELOPE"][1] == b"many parts"
    assert b"* SEARCH 1\r\ng OK" in out  # the rest lives in the last part, still searchable
    assert b"* SEARCH 1\r\nh OK" in out


def test_ten_thousand_nested_multiparts_keep_the_envelope(imap_server):
    out = _session(imap_server, nested_multiparts(), b'f FETCH 1 (ENVELOPE)\r\ng SEARCH SUBJECT "deep multipart"\r\n'
                                                      b"h FETCH 1 (BODYSTRUCTURE)\r\n")
    assert b"\r\nh OK" in out, out[-300:]
    assert fetches(out)[1]["ENVELOPE"][1] == b"deep multipart"
    assert b"* SEARCH 1\r\ng OK" in out
    structure = imap_server.store.mailbox(ALICE).folder("INBOX").bodystructure(1)
    assert _depth(structure) == mimetree.MAX_DEPTH
    assert len(out) < 200_000


def test_a_thousand_nested_messages_keep_the_envelope(imap_server, caplog):
    deep = ".".join(["1"] * 1_000).encode()
    caplog.set_level(logging.ERROR)
    out = _session(imap_server, nested_messages(), b'f FETCH 1 (ENVELOPE BODYSTRUCTURE)\r\n'
                                                   b'g SEARCH SUBJECT "deep messages"\r\n'
                                                   b"h FETCH 1 (BODY.PEEK[1] BODY.PEEK[" + deep + b"])\r\n"
                                                   b"i FETCH 1 (BODY.PEEK[1.1.1.HEADER])\r\n")
    assert b"\r\ni OK" in out and b"\r\nh OK" in out, out[-300:]
    data = fetches(out)[1]
    assert data["ENVELOPE"][1] == b"deep messages"
    assert b"* SEARCH 1\r\ng OK" in out
    assert data["BODY[1]"].startswith(b"Subject: level 0\r\n")  # part 1 of a message/rfc822: the enclosed message
    assert data["BODY[1.1.1.HEADER]"] == b"Subject: level 2\r\nContent-Type: message/rfc822\r\n\r\n"
    # Deeper than the cap: the capped leaf answers for "1" at every further level (a non-multipart
    # part has only part 1, itself, as in Dovecot), and nothing recurses.
    assert data[f"BODY[{deep.decode()}]"].startswith(b"Subject: level ")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    structure = imap_server.store.mailbox(ALICE).folder("INBOX").bodystructure(1)
    assert _depth(structure) == mimetree.MAX_DEPTH
    assert len(json.dumps(structure)) < 100_000


def test_the_tree_is_capped_without_recursion():
    root = mimetree.parse(nested_messages(50_000))
    depth = max(part.depth for part in mimetree.walk(root))
    assert depth == mimetree.MAX_DEPTH - 1
    deepest = next(p for p in mimetree.walk(root) if p.depth == depth)
    assert (deepest.kind, deepest.maintype, deepest.subtype) == ("leaf", "application", "octet-stream")
    assert mimetree.find(root, (1,) * 50_000) is deepest
    assert mimetree.find(root, (1,) * 50 + (2,)) is None
