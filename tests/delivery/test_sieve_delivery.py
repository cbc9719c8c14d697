"""A mailbox's active Sieve script runs at local delivery: folders, flags, redirects, reject, vacation."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agents import config
from agents.models import QueueMessage
from webadmin.models import Filter, Mailbox, SieveScript

from .conftest import deliver_all, index_count, maildir_files, message, queue


def alice() -> Mailbox:
    return Mailbox.objects.get(local_part="alice", domain__name="example.com")


def activate(text: str, name: str = "main", **others: str) -> None:
    for other, body in others.items():
        SieveScript.objects.create(mailbox=alice(), name=other, script=body)
    script = SieveScript(mailbox=alice(), name=name, script=text, active=True)
    script.full_clean()
    script.save()
    config.invalidate()


def replies(mx):
    return [m for m in mx.messages if b"Auto-Submitted: auto-replied" in m.data]


def test_fileinto_with_flags_files_the_message(example_com):
    activate('require ["fileinto", "imap4flags"];\n'
             'if header :contains "List-Id" "python" { addflag "\\\\Seen"; fileinto "Lists"; }')
    queue(message(extra="List-Id: <python-dev.python.org>\r\n"), "carol@remote.test", ["alice@example.com"])
    queue(message(subject="Personal"), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert index_count("alice@example.com", "Lists") == 1 and index_count("alice@example.com", "INBOX") == 1
    [path] = maildir_files("alice@example.com", "Lists")
    assert "S" in path.name.rpartition(":2,")[2]


def test_an_active_script_replaces_the_filter_rows(example_com):
    Filter.objects.create(mailbox=alice(), name="old", actions=[{"action": "discard"}])
    activate('require "fileinto"; fileinto "Sieved";')
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert index_count("alice@example.com", "Sieved") == 1


def test_an_inactive_script_does_not_run(example_com):
    SieveScript.objects.create(mailbox=alice(), name="off", script="discard;")
    config.invalidate()
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert index_count("alice@example.com", "INBOX") == 1


def test_redirect_copy_keeps_a_copy_and_sends_one_on(example_com):
    activate('require "copy"; redirect :copy "bob@example.com";')
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert len(maildir_files("alice@example.com")) == 1 and len(maildir_files("bob@example.com")) == 1


def test_reject_bounces_to_the_sender_with_the_reason(example_com, mx):
    activate('require "reject"; if address :domain :is "from" "remote.test" { reject "Not from you."; }')
    qid = queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert maildir_files("alice@example.com") == []
    assert QueueMessage.objects.get(queue_id=qid).recipients.get().state == "bounced"
    [bounce] = [m for m in mx.messages if "carol@remote.test" in m.rcpt_tos]
    assert b"Not from you." in bounce.data


def test_editheader_adds_and_deletes_fields(example_com):
    activate('require "editheader"; addheader "X-Sorted" "by sieve"; deleteheader "X-Junk";')
    queue(message(extra="X-Junk: yes\r\n"), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    [path] = maildir_files("alice@example.com")
    stored = path.read_bytes()
    assert b"X-Sorted: by sieve" in stored and b"X-Junk" not in stored


def _vacation_script(first: datetime.date, last: datetime.date) -> str:
    return ('require ["date", "relational", "vacation"];\n'
            f'if allof(currentdate :value "ge" "date" "{first.isoformat()}",\n'
            f'         currentdate :value "le" "date" "{last.isoformat()}") {{\n'
            '    vacation :days 3 :subject "Away" "I am away.";\n}')


@pytest.mark.parametrize("first, last, answered", [(-1, 1, True), (2, 5, False), (-5, -2, False)])
def test_vacation_with_a_date_range_answers_only_inside_it(example_com, mx, first, last, answered):
    today = timezone.localtime(timezone.now()).date()
    activate(_vacation_script(today + datetime.timedelta(days=first), today + datetime.timedelta(days=last)))
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert len(replies(mx)) == (1 if answered else 0)


def test_vacation_answers_once_per_days_per_sender(example_com, mx):
    today = timezone.localtime(timezone.now()).date()
    activate(_vacation_script(today, today + datetime.timedelta(days=1)))
    for subject in ("One", "Two"):
        queue(message(subject=subject), "carol@remote.test", ["alice@example.com"])
    queue(message(subject="Three", sender="dave@remote.test"), "dave@remote.test", ["alice@example.com"])
    queue(message(subject="List", extra="List-Id: <l.remote.test>\r\n"), "carol2@remote.test",
          ["alice@example.com"])  # RFC 3834: never to a list
    deliver_all()
    got = replies(mx)
    assert sorted(r for m in got for r in m.rcpt_tos) == ["carol@remote.test", "dave@remote.test"]
    assert all(b"Subject: Away" in m.data for m in got)


@pytest.mark.parametrize("text, words", [
    ('require "fileinto";\n\nfileinto;', "line 3"),
    ('keep;\nvacation "x";', "line 2: extension 'vacation' not loaded"),
    ('require "include";\ninclude "main";', "include loop: main → main"),
])
def test_a_bad_script_is_refused_with_its_line(example_com, text, words):
    with pytest.raises(ValidationError) as refused:
        activate(text)
    assert words in str(refused.value.message_dict["script"])
    assert not SieveScript.objects.exists()


def test_include_reads_the_users_other_scripts(example_com):
    activate('require "include"; include :personal "lists";',
             lists='require "fileinto"; if exists "List-Id" { fileinto "Lists"; }')
    queue(message(extra="List-Id: <x.remote.test>\r\n"), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert index_count("alice@example.com", "Lists") == 1
