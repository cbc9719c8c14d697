"""Each filter action, applied by local delivery in order, with the stop flag."""

import pytest

from agents import config
from agents.models import QueueMessage
from webadmin.models import Filter, Mailbox

from .conftest import deliver_all, index_count, maildir_files, message, queue


def add_filter(address, actions, conditions=None, stop=False, position=0, match="all"):
    mailbox = Mailbox.objects.get(local_part=address.split("@")[0], domain__name=address.split("@")[1])
    Filter.objects.create(mailbox=mailbox, name=f"rule {position}", position=position, actions=actions,
                          conditions=conditions or [], stop=stop, match=match)
    config.invalidate()


def flags_of(path):
    return path.name.rpartition(":2,")[2]


def test_fileinto_creates_the_folder_and_files_the_message(example_com):
    add_filter("alice@example.com", [{"action": "fileinto", "folder": "Lists/Python"}],
               [{"field": "header", "header": "List-Id", "op": "contains", "value": "python"}])
    queue(message(extra="List-Id: <python-dev.python.org>\r\n"), "carol@remote.test", ["alice@example.com"])
    queue(message(subject="Personal"), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert index_count("alice@example.com", "Lists/Python") == 1
    assert index_count("alice@example.com", "INBOX") == 1


def test_mark_read_and_flag_set_the_flags(example_com):
    add_filter("alice@example.com", [{"action": "mark_read"}, {"action": "flag"}],
               [{"field": "subject", "op": "is", "value": "urgent"}])
    queue(message(subject="URGENT"), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    [path] = maildir_files("alice@example.com")
    assert "S" in flags_of(path) and "F" in flags_of(path)


def test_redirect_sends_it_on_and_keeps_no_copy(example_com):
    add_filter("alice@example.com", [{"action": "redirect", "address": "bob@example.com"}])
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert maildir_files("alice@example.com") == []
    assert len(maildir_files("bob@example.com")) == 1


def test_forward_sends_it_on_and_keeps_a_copy(example_com, mx):
    add_filter("alice@example.com", [{"action": "forward", "address": "dave@remote.test"}])
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert len(maildir_files("alice@example.com")) == 1
    assert mx.recipients_count() == {"dave@remote.test": 1}


def test_discard_keeps_nothing(example_com):
    add_filter("alice@example.com", [{"action": "discard"}], [{"field": "from", "op": "contains", "value": "spam"}])
    qid = queue(message(sender="spam@remote.test"), "spam@remote.test", ["alice@example.com"])
    deliver_all()
    assert maildir_files("alice@example.com") == []
    assert QueueMessage.objects.get(queue_id=qid).recipients.get().state == "discarded"


def test_stop_ends_the_run_and_later_rules_do_not_apply(example_com):
    add_filter("alice@example.com", [{"action": "fileinto", "folder": "First"}], stop=True, position=1)
    add_filter("alice@example.com", [{"action": "fileinto", "folder": "Second"}], position=2)
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert index_count("alice@example.com", "First") == 1
    assert not maildir_files("alice@example.com", "Second")


def test_without_stop_later_rules_still_apply_in_order(example_com):
    add_filter("alice@example.com", [{"action": "fileinto", "folder": "First"}], position=1)
    add_filter("alice@example.com", [{"action": "fileinto", "folder": "Second"}, {"action": "flag"}], position=2)
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    [path] = maildir_files("alice@example.com", "Second")
    assert "F" in flags_of(path)


@pytest.mark.parametrize("conditions, match, expected", [
    ([{"field": "size", "op": "gt", "value": "10"}], "all", "Big"),
    ([{"field": "size", "op": "lt", "value": "10"}], "all", "INBOX"),
    ([{"field": "to_cc", "op": "matches", "value": r"^alice@"}], "all", "Big"),
    ([{"field": "subject", "op": "not_contains", "value": "Hello"}, {"field": "from", "op": "contains",
                                                                      "value": "carol"}], "any", "Big"),
    ([{"field": "subject", "op": "not_contains", "value": "Hello"}, {"field": "from", "op": "contains",
                                                                      "value": "carol"}], "all", "INBOX"),
])
def test_conditions_choose_the_folder(example_com, conditions, match, expected):
    add_filter("alice@example.com", [{"action": "fileinto", "folder": "Big"}], conditions, match=match)
    queue(message(), "carol@remote.test", ["alice@example.com"])
    deliver_all()
    assert index_count("alice@example.com", expected) == 1
