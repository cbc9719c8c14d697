"""Junk moves teach each user's filter, and the filter files similar mail into that user's Junk at delivery."""

from __future__ import annotations

import datetime
import re

import pytest

from agents.delivery import runner
from agents.mailauth import authresults, junkmodel, learn
from agents.models import SpamTraining
from agents.queue import Envelope, submit
from agents.store import default_store
from agents.tasks import learn_junk
from webadmin.webmail import folders

LONG_AGO = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)


def mail(subject: str, body: str, sender: str, mid: str, to: str = "bob@example.com") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Mon, 23 Nov 2026 14:00:00 +0000\r\n"
            f"Message-ID: <{mid}@test>\r\n\r\n{body}\r\n").encode()


def spam(i: int) -> bytes:
    return mail("Cheap pills online", f"Buy cheap pills at our online pharmacy, discount {i}, order now",
                f"seller{i}@pills{i}.example", f"spam{i}")


def ham(i: int) -> bytes:
    return mail("Budget meeting", f"Hi Bob, the budget review moves to Tuesday {i}. Regards, Carol",
                "carol@work.example", f"ham{i}")


PROBE = mail("Pharmacy discount today", "Cheap pills from the online pharmacy, order now",
             "someone@new-sender.example", "probe", to="bob@example.com, alice@example.com")


@pytest.fixture(autouse=True)
def _own_store(settings, tmp_path):
    settings.MAILAPP_MAIL_ROOT = tmp_path / "mail"
    settings.MAILAPP_SPOOL_DIR = tmp_path / "spool"
    settings.MAILAPP_JUNKFILTER = True


def junk_three_keep_two(address: str = "bob@example.com") -> None:
    """The user read and kept two messages days ago, then filed three new ones into Junk (webmail moves)."""
    box = default_store().mailbox(address)
    for i in range(2):
        box.deliver(ham(i), folder="INBOX", flags=("\\Seen",), internaldate=LONG_AGO)
    inbox = box.folder("INBOX")
    for i in range(3):
        _, uid = box.deliver(spam(i), folder="INBOX")
        folders.move(box, inbox, [uid], "Junk")


def deliver(raw: bytes, recipients: list[str]) -> None:
    submit(raw, Envelope(sender="someone@new-sender.example", recipients=recipients), enqueue=False)
    assert runner.run_due()


def stored(address: str, folder: str, mid: str) -> bytes | None:
    box = default_store().mailbox(address)
    target = box.folder(folder)
    uids = target.search_header("message-id", mid)
    return target.read(uids[-1]) if uids else None


def test_after_a_few_junk_moves_similar_mail_goes_to_that_users_junk_only(example_com):
    junk_three_keep_two()
    assert learn_junk() == 3
    assert not SpamTraining.objects.filter(used=False).exists()
    deliver(PROBE, ["bob@example.com", "alice@example.com"])
    bobs = stored("bob@example.com", "Junk", "probe@test")
    assert bobs is not None and stored("bob@example.com", "INBOX", "probe@test") is None
    alices = stored("alice@example.com", "INBOX", "probe@test")
    assert alices is not None and b"X-Spam-Learned" not in alices


def test_the_stored_copy_shows_the_learned_contribution(example_com):
    junk_three_keep_two()
    learn_junk()
    deliver(PROBE, ["bob@example.com"])
    raw = stored("bob@example.com", "Junk", "probe@test")
    assert raw is not None
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("Return-Path: <someone@new-sender.example>\r\nDelivered-To: bob@example.com\r\n"
                           "X-Spam-Learned: +")
    match = re.search(r"X-Spam-Learned: ([+-][\d.]+) \(bayes=([+-][\d.]+) p=([\d.]+) model=user .*"
                      r"score=([\d.]+) required=5\.0", head)
    assert match is not None
    assert float(match.group(1)) >= 5.0 and float(match.group(3)) > 0.9 and float(match.group(4)) >= 5.0


def test_unjunking_lowers_the_score(example_com):
    junk_three_keep_two()
    learn_junk()
    box = default_store().mailbox("bob@example.com")
    before = learn.assessment(box, PROBE, False)
    junk = box.folder("Junk")
    folders.move(box, junk, junk.uids()[:2], "INBOX")  # "not junk" for two of them
    assert learn_junk() == 2
    after = learn.assessment(box, PROBE, False)
    assert after.points < before.points
    assert junkmodel.learned_as(learn.user_model(box), "<spam0@test>") == junkmodel.HAM


def test_kept_mail_is_learned_as_ham_only_when_read_and_old_enough(example_com):
    box = default_store().mailbox("bob@example.com")
    box.deliver(ham(0), folder="INBOX", flags=("\\Seen",), internaldate=LONG_AGO)
    box.deliver(ham(1), folder="INBOX", internaldate=LONG_AGO)  # never read
    box.deliver(ham(2), folder="INBOX", flags=("\\Seen",))  # read, but just arrived
    _, uid = box.deliver(spam(0), folder="INBOX")
    folders.move(box, box.folder("INBOX"), [uid], "Junk")
    learn_junk()
    model = learn.user_model(box)
    assert [junkmodel.learned_as(model, f"<ham{i}@test>") for i in range(3)] == [junkmodel.HAM, None, None]
    assert junkmodel.learned_as(model, "<spam0@test>") == junkmodel.SPAM


def test_rows_of_vanished_messages_and_mailboxes_are_used_up(example_com):
    SpamTraining.objects.create(mailbox="bob@example.com", verdict="spam", message_id="<gone@test>")
    SpamTraining.objects.create(mailbox="nobody@example.com", verdict="spam", message_id="<x@test>")
    SpamTraining.objects.create(mailbox="bob@example.com", verdict="ham", message_id="")
    assert learn_junk() == 3
    assert learn_junk() == 0
    assert not default_store().mailbox("bob@example.com").sidecar(junkmodel.NAME, junkmodel.SCHEMA).exists()


def test_with_the_filter_switched_off_nothing_is_added(example_com, settings):
    junk_three_keep_two()
    learn_junk()
    settings.MAILAPP_JUNKFILTER = False
    deliver(PROBE, ["bob@example.com"])
    raw = stored("bob@example.com", "INBOX", "probe@test")
    assert raw is not None and b"X-Spam-Learned" not in raw


def test_a_forged_learned_header_is_stripped_at_the_mx_door():
    raw = b"X-Spam-Learned: -9.0 (bayes=-9.0)\r\nSubject: hi\r\n\r\nbody\r\n"
    assert authresults.strip_forged(raw, "mx.example.com") == b"Subject: hi\r\n\r\nbody\r\n"


def test_learned_points_add_to_the_mx_doors_score(example_com):
    from agents.mailauth.verdict import junk

    door = b"X-Spam-Score: 2.0\r\n" + PROBE
    assert not junk(door, "bob@example.com")
    assert junk(door, "bob@example.com", learned=3.5)  # 2.0 + 3.5 reaches the default junk score 5.0
    assert not junk(b"X-Spam-Score: 6.0\r\n" + PROBE, "bob@example.com", learned=-3.0)  # the user keeps such mail
