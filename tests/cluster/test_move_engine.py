"""A mailbox move as the engine sees it, in one process playing the nodes: while the mailbox is
frozen its deliveries wait in the queue (nothing is stored, nothing lost) and its IMAP sessions end;
after the switch the waiting mail is released and goes to the new home."""

from __future__ import annotations

import datetime
import imaplib
import poplib
import shutil
import socket
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from agents import config, metrics
from agents.cluster import move
from agents.cluster.nodes import renew, stopped
from agents.cluster.placement import served_elsewhere
from agents.delivery import runner
from agents.imap.service import authenticate
from agents.models import MailboxMove, QueueMessage, QueueRecipient
from agents.pop3.runner import build_server as build_pop3
from agents.queue import Envelope, submit
from agents.store import Store, default_store
from agents.tls import ensure_certificate, settings_server_context
from tests.conftest import PASSWORD
from tests.imap.conftest import _run_server
from tests.serverthread import serving
from webadmin.models import Mailbox

RAW = b"From: someone@remote.test\r\nSubject: during the move\r\n\r\nhello\r\n"


@pytest.fixture(autouse=True)
def _no_mail_from_other_tests():
    shutil.rmtree(Path(django_settings.MAILAPP_MAIL_ROOT) / "example.com", ignore_errors=True)
    yield
    shutil.rmtree(Path(django_settings.MAILAPP_MAIL_ROOT) / "example.com", ignore_errors=True)


def inbox(address: str) -> list[Path]:
    local, _, domain = address.partition("@")
    box = Path(django_settings.MAILAPP_MAIL_ROOT) / domain / local
    return [f for sub in ("new", "cur") for f in (box / sub).glob("*")]


def test_a_frozen_mailbox_holds_its_deliveries_and_the_switch_sends_them_to_the_new_home(db, make_mailbox, settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "b"
    make_mailbox("alice@example.com", home_node="b")
    renew("c", "127.0.0.4", 15, starting=True)
    frozen = MailboxMove.objects.create(address="alice@example.com", source="b", target="c",
                                        state=MailboxMove.FROZEN, frozen_at=timezone.now())
    assert "being moved to node c" in served_elsewhere("alice@example.com"), "a frozen mailbox let a login in"

    qid = submit(RAW, Envelope(sender="someone@remote.test", recipients=["alice@example.com"]), enqueue=False)
    before = timezone.now()
    assert runner.run(qid).startswith("deferred")
    assert inbox("alice@example.com") == [], "a delivery wrote a frozen mailbox"
    rcpt = QueueRecipient.objects.get(message_id=qid)
    assert rcpt.state == QueueRecipient.DEFERRED and "being moved" in rcpt.last_error
    message = QueueMessage.objects.get(queue_id=qid)
    assert message.next_attempt <= before + datetime.timedelta(seconds=10), "held mail waits a full backoff"

    assert config.switch_home_node("alice@example.com", "b", "c")
    MailboxMove.objects.filter(pk=frozen.pk).update(state=MailboxMove.SWITCHED)
    assert Mailbox.objects.get(local_part="alice").home_node == "c"
    QueueMessage.objects.filter(queue_id=qid).update(next_attempt=timezone.now() + datetime.timedelta(hours=1))
    assert move.release_held("alice@example.com") == 1
    assert QueueMessage.objects.get(queue_id=qid).next_attempt <= timezone.now()

    config.invalidate()
    assert runner.run(qid) == "done", "node b did not hand the held mail on"
    copy = QueueMessage.objects.get(parent=qid, source="route")
    assert copy.node == "c" and inbox("alice@example.com") == []
    settings.MAILAPP_NODE = "c"
    MailboxMove.objects.filter(pk=frozen.pk).update(state=MailboxMove.DONE)
    assert runner.run(copy.queue_id) == "done"
    assert len(inbox("alice@example.com")) == 1, "the held message never reached the new home"


def test_a_stale_configuration_cache_on_the_old_home_never_stores_there(db, make_mailbox, settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "b"
    make_mailbox("alice@example.com", home_node="b")
    assert config.get_mailbox("alice@example.com").home_node == "b"  # cached on node b
    Mailbox.objects.filter(local_part="alice").update(home_node="c")  # moved; no signal reached the cache
    assert config.get_mailbox("alice@example.com").home_node == "b"
    qid = submit(RAW, Envelope(sender="someone@remote.test", recipients=["alice@example.com"]), enqueue=False)
    assert runner.run(qid).startswith("deferred")
    assert inbox("alice@example.com") == [], "node b stored mail for a mailbox homed on node c"
    assert config.get_mailbox("alice@example.com").home_node == "c", "the stale cache was kept"


def test_imap_sessions_of_a_frozen_mailbox_end_with_a_bye_naming_the_move(transactional_db, make_mailbox, settings,
                                                                          tmp_path):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "b"
    make_mailbox("alice@example.com", home_node="b")
    make_mailbox("dave@example.com", home_node="b")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_certificate(cert, key, "localhost")
    try:
        for running in _run_server(Store(tmp_path / "mail"), (cert, key), auth=authenticate,
                                   evictions=move.evictions):
            dave = running.login("dave@example.com")
            with socket.create_connection((running.host, running.port), timeout=10) as sock, \
                    sock.makefile("rb") as reader:
                reader.readline()
                sock.sendall(f'a LOGIN alice@example.com "{PASSWORD}"\r\nb SELECT INBOX\r\nc IDLE\r\n'.encode())
                while not reader.readline().startswith(b"+ "):
                    pass
                MailboxMove.objects.create(address="alice@example.com", source="b", target="c",
                                           state=MailboxMove.FROZEN)
                line = reader.readline()
                while line and not line.startswith(b"* BYE"):
                    line = reader.readline()
                assert line.startswith(b"* BYE [UNAVAILABLE]") and b"being moved" in line, line
                assert reader.readline() == b"", "the connection stayed open after the BYE"
            assert dave.noop()[0] == "OK", "another user's session was ended"
            with pytest.raises(imaplib.IMAP4.error, match="being moved"):
                running.client().login("alice@example.com", PASSWORD)
    finally:
        metrics.flush()


def test_pop3_sessions_of_a_frozen_mailbox_end_without_applying_their_deletions(transactional_db, make_mailbox,
                                                                                settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "b"
    make_mailbox("alice@example.com", home_node="b")
    store = default_store()
    store.mailbox("alice@example.com").deliver(RAW)
    server = build_pop3(bind="127.0.0.1", port=0, tls_port=0, ssl_context=settings_server_context(), store=store)
    server.config.dev_mode = True
    try:
        with serving(server):
            pop = poplib.POP3("127.0.0.1", server.ports[0], timeout=10)
            pop.user("alice@example.com")
            pop.pass_(PASSWORD)
            pop.dele(1)
            MailboxMove.objects.create(address="alice@example.com", source="b", target="c", state=MailboxMove.FROZEN)
            ended = pop.file.readline()  # unasked: the server's last words
            assert ended.startswith(b"-ERR [SYS/TEMP]") and b"being moved" in ended, ended
            assert pop.file.readline() == b"", "the connection stayed open"
            pop.close()
    finally:
        metrics.flush()
    assert store.mailbox("alice@example.com").folder("INBOX").uids() == [1], "a DELE without QUIT was applied"


def test_a_move_whose_target_node_died_is_given_up_and_the_mailbox_thaws(db, make_mailbox, settings):
    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "b"
    make_mailbox("alice@example.com", home_node="b")
    renew("c", "127.0.0.4", 15, starting=True)
    frozen = MailboxMove.objects.create(address="alice@example.com", source="b", target="c",
                                        state=MailboxMove.FROZEN, frozen_at=timezone.now())
    qid = submit(RAW, Envelope(sender="someone@remote.test", recipients=["alice@example.com"]), enqueue=False)
    assert runner.run(qid).startswith("deferred")
    assert move.expire_stuck() == 0, "a live target's move was given up"
    stopped("c")  # the target node dies mid-move
    assert move.expire_stuck() == 1
    gone = MailboxMove.objects.get(pk=frozen.pk)
    assert gone.state == MailboxMove.FAILED and "node c is down" in gone.note
    assert served_elsewhere("alice@example.com") == "", "the mailbox stayed frozen"
    assert QueueMessage.objects.get(queue_id=qid).next_attempt <= timezone.now(), "the held mail was not released"
    assert runner.run(qid) == "done" and len(inbox("alice@example.com")) == 1


def test_movemailbox_says_why_it_cannot_move(db, make_mailbox, settings):
    make_mailbox("alice@example.com", home_node="b")
    with pytest.raises(CommandError, match="needs cluster mode"):
        call_command("movemailbox", "alice@example.com", "c")
    settings.MAILAPP_CLUSTER = True
    with pytest.raises(CommandError, match="nobody@example.com is not a mailbox"):
        call_command("movemailbox", "nobody@example.com", "c")
    renew("b", "127.0.0.3", 15, starting=True)
    with pytest.raises(CommandError, match="no node named 'c' has ever run"):
        call_command("movemailbox", "alice@example.com", "c")
    assert not MailboxMove.objects.exists()


def test_mail_that_reached_the_old_copy_after_the_final_copy_is_delivered_again_at_the_new_home(
        db, make_mailbox, settings):
    from agents.store.transfer import fingerprint

    settings.MAILAPP_CLUSTER = True
    settings.MAILAPP_NODE = "b"
    make_mailbox("alice@example.com", home_node="c")  # switched already
    box = default_store().mailbox("alice@example.com")
    box.deliver(b"Subject: copied\r\n\r\nin the final copy\r\n")
    folders = fingerprint(box.index_path)
    box.deliver(b"Return-Path: <x@remote.test>\r\nDelivered-To: alice@example.com\r\nSubject: late\r\n\r\n"
                b"stored on b after the final copy\r\n")
    switched = MailboxMove.objects.create(address="alice@example.com", source="b", target="c",
                                          state=MailboxMove.SWITCHED)
    assert move.retire(switched.pk, folders).startswith("done")
    done = MailboxMove.objects.get(pk=switched.pk)
    assert done.state == MailboxMove.DONE and "1 message(s) stored there after it were delivered again" in done.note
    again = QueueMessage.objects.get(source="route")
    assert again.node == "c" and list(again.recipients.values_list("address", flat=True)) == ["alice@example.com"]
    assert inbox("alice@example.com") == [], "the old copy stayed in node b's live tree"
    assert move.retire(switched.pk, folders) == "skipped"
    settings.MAILAPP_NODE = "c"  # the new home delivers it: not taken for a loop by its Delivered-To
    assert runner.run(again.queue_id) == "done"
    stored = inbox("alice@example.com")
    assert len(stored) == 1 and b"stored on b after the final copy" in stored[0].read_bytes()
