"""Webmail and IMAP share one store: what one does, the other sees at once (a real IMAP server on loopback)."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator

import pytest

from agents.imap.server import ImapServer, Limits
from agents.imap.service import authenticate
from agents.loginguard.db import mail_guard
from agents.store import Store
from agents.tls import ensure_certificate, server_context
from tests.conftest import PASSWORD
from tests.serverthread import call, loop_thread
from tests.webmail.conftest import message


@pytest.fixture
def imap(transactional_db, example_com, settings, tmp_path) -> Iterator[imaplib.IMAP4]:
    """An IMAP session of alice@ against the webmail's store, authenticated through agents.config."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_certificate(cert, key, "localhost")
    server = ImapServer(
        Store(settings.MAILAPP_MAIL_ROOT).mailbox, authenticate, ssl_context=server_context(cert, key),
        dev_mode=True, limits=Limits(max_literal=1024 * 1024, max_line=8192, idle_timeout=60),
        hostname="imap.test", throttle=mail_guard(),
    )  # fmt: skip
    with loop_thread("imap-test-server") as loop:
        ports = call(loop, server.start("127.0.0.1", 0, 0))
        client = imaplib.IMAP4("127.0.0.1", ports[0], timeout=10)
        client.login("alice@example.com", PASSWORD)
        try:
            yield client
        finally:
            try:
                client.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
            call(loop, server.close())


def _flags(client: imaplib.IMAP4, uid: int) -> bytes:
    client.select("INBOX")
    status, data = client.uid("FETCH", str(uid), "(FLAGS)")
    assert status == "OK"
    return data[0] if isinstance(data[0], bytes) else data[0][0]


def test_a_message_read_in_webmail_is_seen_over_imap(imap, alice_store, alice):
    _, uid = alice_store.deliver(message(subject="read me"))
    assert b"\\Seen" not in _flags(imap, uid)
    alice.get(f"/mail/message/{uid}/?folder=INBOX")
    assert b"\\Seen" in _flags(imap, uid)


def test_flags_and_moves_over_imap_show_in_webmail(imap, alice_store, alice):
    _, first = alice_store.deliver(message(subject="flag me"))
    _, second = alice_store.deliver(message(subject="move me"))
    imap.select("INBOX")
    assert imap.uid("STORE", str(first), "+FLAGS", "(\\Flagged \\Seen)")[0] == "OK"
    assert imap.uid("MOVE", str(second), "Junk")[0] == "OK"
    inbox = alice.get("/mail/", {"folder": "INBOX"}).content.decode()
    assert "flag me" in inbox and "★" in inbox and "move me" not in inbox
    assert "move me" in alice.get("/mail/", {"folder": "Junk"}).content.decode()


def test_a_webmail_delete_is_gone_over_imap(imap, alice_store, alice):
    _, uid = alice_store.deliver(message(subject="bye"))
    alice.post("/mail/actions/", {"folder": "INBOX", "uid": uid, "action": "delete"})
    imap.select("INBOX")
    assert imap.uid("SEARCH", "ALL")[1] == [b""]
    status, data = imap.select("Trash")
    assert status == "OK" and data == [b"1"]


def test_a_message_flagged_deleted_over_imap_is_struck_through_until_expunged(imap, alice_store, alice):
    _, uid = alice_store.deliver(message(subject="doomed"))
    imap.select("INBOX")
    imap.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
    assert f'deleted" data-uid="{uid}"' in alice.get("/mail/", {"folder": "INBOX"}).content.decode()
    imap.expunge()
    assert "doomed" not in alice.get("/mail/", {"folder": "INBOX"}).content.decode()
