"""Dovecot (Debian's imap binary, run pre-authenticated on stdin) reads what the store wrote."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.fakes.dovecot import imap_preauth

from .conftest import message


def _dovecot(maildir: Path, work: Path, script: str) -> str:
    """Run Dovecot's imap process on ``maildir`` as an unprivileged user and return its output."""
    return imap_preauth(maildir, work, script, timeout=20).decode("utf-8", "replace")


@pytest.fixture
def work():
    # Not under pytest's tmp_path: its parents are private to root, and Dovecot runs as nobody.
    path = Path(tempfile.mkdtemp(prefix="store-dovecot-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_dovecot_sees_folders_flags_and_unicode_names(store, work):
    mailbox = store.mailbox("alice@example.com")
    mailbox.deliver(message("first"))
    mailbox.deliver(message("second"), flags=["\\Seen", "\\Flagged"])
    mailbox.deliver(message("third"), folder="Entwürfe/Sub")
    mailbox.subscribe("Entwürfe/Sub")
    shutil.copytree(mailbox.path, work / "alice")
    out = _dovecot(
        work / "alice",
        work,
        'a LIST "" "*"\r\nb SELECT INBOX\r\nc UID FETCH 1:* (FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n'
        'd STATUS "Entw&APw-rfe/Sub" (MESSAGES)\r\nf LSUB "" "*"\r\ne LOGOUT\r\n',
    )
    assert '"/" Sent' in out and '"/" Entw&APw-rfe/Sub' in out, out
    assert "* 2 EXISTS" in out and "Subject: first" in out and "Subject: second" in out, out
    assert "FLAGS (\\Flagged \\Seen" in out, out
    sizes = sorted(m.size for m in mailbox.folder("INBOX").messages())
    assert all(f"RFC822.SIZE {size}" in out for size in sizes), out
    assert "(MESSAGES 1)" in out, out
    assert '* LSUB () "/" Entw&APw-rfe/Sub' in out and '* LSUB () "/" Sent' in out, out


def test_store_picks_up_what_dovecot_changed(store, work):
    from agents.store import Store

    mailbox = store.mailbox("alice@example.com")
    for subject in ("one", "two", "three"):
        mailbox.deliver(message(subject))
    copy = work / "mail" / "example.com" / "alice"
    shutil.copytree(mailbox.path, copy)
    out = _dovecot(
        copy,
        work,
        "a SELECT INBOX\r\nb STORE 1 +FLAGS (\\Deleted)\r\nc EXPUNGE\r\nd UID STORE 2 +FLAGS (\\Answered \\Seen)\r\n"
        "e LOGOUT\r\n",
    )
    assert "* 1 EXPUNGE" in out, out
    inbox = Store(work / "mail").mailbox("alice@example.com").folder("INBOX")
    assert [(m.uid, m.flags) for m in inbox.messages()] == [(2, {"\\Answered", "\\Seen"}), (3, frozenset())]
    assert inbox.read(2).startswith(b"From: Bob")


def test_cached_bodystructure_and_envelope_match_dovecots(store, work):
    import re

    from agents.imap import responses

    from .test_mime_cache import MULTIPART

    mailbox = store.mailbox("alice@example.com")
    _, uid = mailbox.deliver(MULTIPART)
    shutil.copytree(mailbox.path, work / "alice")
    out = _dovecot(work / "alice", work, "a SELECT INBOX\r\nb UID FETCH 1 (BODYSTRUCTURE ENVELOPE)\r\nc LOGOUT\r\n")
    fetched = next(line for line in out.splitlines() if line.startswith("* 1 FETCH")).encode()
    inbox = mailbox.folder("INBOX")

    def norm(data: bytes) -> bytes:  # case and the spacing between list items are not significant here
        return re.sub(rb"\)\s+\(", b")(", data.lower())

    assert norm(responses.bodystructure(inbox.bodystructure(uid))) in norm(fetched), out
    assert norm(responses.envelope(inbox.envelope(uid))) in norm(fetched), out


AGREED = {  # messages on which the store's cached structure must equal Dovecot's
    "simple": b"Subject: s\n\nhello\n",
    "no final newline": b"Subject: s\n\nhello",
    "qp html": b'Content-Type: text/html; charset="ISO-8859-1"\n'
    b"Content-Transfer-Encoding: Quoted-Printable\n\n<b>x</b>\n",
    "nested rfc822": b"Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: message/rfc822\n\n"
    b"Content-Type: multipart/alternative; boundary=b\nSubject: in\n\n"
    b"--b\nContent-Type: text/plain\n\nx\n--b--\n\n--a--\n",
    "language, location, md5": b"Content-Type: text/plain\nContent-Language: en, de\nContent-Location: http://x/y\n"
    b"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\nContent-Description: a desc\n\nx\n",
    "preamble and epilogue": b"Content-Type: multipart/mixed; boundary=x\n\npreamble\n--x\n\npart\n--x--\nepilogue\n",
    "8-bit body": b"Subject: s\nContent-Type: text/plain; charset=latin1\n\nGr\xfc\xdfe\n",
    "no boundary": b"Content-Type: multipart/mixed\n\nno parts at all\n",
    "bad encoded word": b"Subject: =?utf-8?b?!!!notbase64?= =?bogus-charset?q?x?=\n\n.\n",
}


def test_structure_agrees_with_dovecot_on_plain_and_odd_messages(store, work):
    import re

    from agents.imap import responses

    mailbox = store.mailbox("alice@example.com")
    uids = [mailbox.deliver(raw)[1] for raw in AGREED.values()]
    shutil.copytree(mailbox.path, work / "alice")
    out = _dovecot(work / "alice", work, "a SELECT INBOX\r\nb UID FETCH 1:* (BODYSTRUCTURE ENVELOPE)\r\nc LOGOUT\r\n")
    fetched = [line.encode() for line in out.splitlines() if " FETCH (UID " in line]
    inbox = mailbox.folder("INBOX")

    def norm(data: bytes) -> bytes:
        return re.sub(rb"\)\s+\(", b")(", data.lower())

    for name, uid, line in zip(AGREED, uids, fetched, strict=True):
        assert norm(responses.bodystructure(inbox.bodystructure(uid))) in norm(line), (name, line)
        assert norm(responses.envelope(inbox.envelope(uid))) in norm(line), (name, line)
