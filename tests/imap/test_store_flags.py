"""STORE: set, add and remove flags and keywords, silently or not; flags persist in the store."""

import pytest

from tests.imap.conftest import ALICE, message


def _select(imap_server, count=3):
    for i in range(count):
        imap_server.deliver(message(f"m{i}"))
    imap = imap_server.login()
    imap.select("INBOX")
    return imap


def test_add_remove_replace_flags(imap_server):
    imap = _select(imap_server)
    typ, data = imap.store("1:2", "+FLAGS", "(\\Flagged $Work)")
    assert typ == "OK" and all(b"\\Flagged" in d and b"$Work" in d for d in data)
    imap.store("1", "-FLAGS", "(\\Flagged)")
    typ, data = imap.store("3", "FLAGS", "(\\Answered)")
    assert b"\\Answered" in data[0] and b"$Work" not in data[0]
    metas = imap_server.store.mailbox(ALICE).folder("INBOX").messages()
    assert [sorted(m.flags) for m in metas] == [["$Work"], ["$Work", "\\Flagged"], ["\\Answered"]]


def test_silent_store_says_nothing(imap_server):
    imap = _select(imap_server)
    typ, data = imap.store("1:*", "+FLAGS.SILENT", "\\Seen")
    assert typ == "OK" and data == [None]


def test_uid_store(imap_server):
    imap = _select(imap_server)
    typ, data = imap.uid("STORE", "2", "+FLAGS", "(\\Deleted)")
    assert typ == "OK" and b"UID 2" in data[0] and b"\\Deleted" in data[0]


def test_keywords_appear_in_flags_response(imap_server):
    imap = _select(imap_server, 1)
    imap.store("1", "+FLAGS", "$Label1")
    typ, data = imap.select("INBOX")
    assert b"$Label1" in b" ".join(imap.response("FLAGS")[1])


def test_bad_flag_is_bad(imap_server):
    imap = _select(imap_server, 1)
    with pytest.raises(imap.error, match="BAD"):
        imap._simple_command("STORE", "1", "+FLAGS", "(\\Bogus)")
