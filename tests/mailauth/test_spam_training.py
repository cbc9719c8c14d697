"""Moving mail into or out of Junk (webmail's move) records a training row for the spam filter."""

from __future__ import annotations

from agents.mailauth.training import verdict_for_move
from agents.models import SpamTraining
from agents.store import default_store
from tests.mailauth.conftest import message
from webadmin.webmail import folders


def test_verdicts_of_moves():
    assert verdict_for_move("INBOX", "Junk") == "spam"
    assert verdict_for_move("Junk", "INBOX") == "ham"
    assert verdict_for_move("Junk", "Trash") is None
    assert verdict_for_move("INBOX", "Archive") is None


def test_webmail_moves_into_and_out_of_junk_are_recorded(example_com):
    box = default_store().mailbox("bob@example.com")
    inbox = box.folder("INBOX")
    _, uid = box.deliver(message(subject="train me"), folder="INBOX")
    folders.move(box, inbox, [uid], "Junk")
    junk = box.folder("Junk")
    moved = max(junk.uids())
    folders.move(box, junk, [moved], "INBOX")
    folders.move(box, box.folder("INBOX"), [max(box.folder("INBOX").uids())], "Drafts")
    rows = list(SpamTraining.objects.order_by("pk").values_list("mailbox", "verdict", "source"))
    assert rows == [("bob@example.com", "spam", "webmail"), ("bob@example.com", "ham", "webmail")]
    assert SpamTraining.objects.first().message_id.endswith("@test>")
