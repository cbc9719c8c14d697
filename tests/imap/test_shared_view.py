"""Sessions of one process share a folder's listing; each still sees its own, correctly numbered, view."""

from __future__ import annotations

from tests.imap.conftest import message


def test_several_expunges_are_numbered_one_after_the_other(imap_server):
    for n in range(6):
        imap_server.deliver(message(f"m{n}"))
    first, second = imap_server.login(), imap_server.login()
    first.select("INBOX")
    second.select("INBOX")
    second.response("EXISTS")
    first.store("2,4,5", "+FLAGS", "\\Deleted")
    first.store("6", "+FLAGS", "\\Flagged")
    first.expunge()
    second.noop()
    assert second.response("EXPUNGE")[1] == [b"5", b"4", b"2"]  # highest first (as Dovecot): old numbers hold
    assert second.response("FETCH")[1] == [b"3 (FLAGS (\\Flagged))"]  # numbered after the expunges
    assert second.fetch("1:*", "(UID)")[1] == [b"1 (UID 1)", b"2 (UID 3)", b"3 (UID 6)"]


def test_a_session_that_may_not_hear_of_an_expunge_keeps_its_numbers(imap_server):
    for n in range(3):
        imap_server.deliver(message(f"m{n}"))
    first, second = imap_server.login(), imap_server.login()
    first.select("INBOX")
    second.select("INBOX")
    first.store("1", "+FLAGS", "\\Deleted")
    first.expunge()
    third = imap_server.login()  # selects the listing without UID 1
    third.select("INBOX")
    assert third.fetch("1", "(UID)")[1] == [b"1 (UID 2)"]
    assert second.fetch("2", "(UID)")[1] == [b"2 (UID 2)"]  # FETCH must not announce the expunge
    second.store("3", "+FLAGS", "\\Seen")  # a change of its own on the view that still has UID 1
    assert b"UID 3" in second.fetch("3", "(UID FLAGS)")[1][0]
    second.noop()
    assert second.response("EXPUNGE")[1] == [b"1"]
    assert second.fetch("1:*", "(UID)")[1] == [b"1 (UID 2)", b"2 (UID 3)"]
    third.noop()
    assert third.response("FETCH")[1] == [b"2 (FLAGS (\\Seen))"]  # the other session's change
    assert third.fetch("1:*", "(UID)")[1] == [b"1 (UID 2)", b"2 (UID 3)"]


def _news_after_many_changes(imap_server, qresync: bool) -> list[bytes]:
    """What a session sharing the listing is told at one NOOP after another session expunged,
    flagged with a new keyword, and appended (a CONTEXT=SEARCH result kept up to date)."""
    from .test_context_search import _say, _session

    for n in range(5):
        imap_server.deliver(message(f"m{n}"))
    watcher, watched = _session(imap_server.port)
    changer, _changed = _session(imap_server.port)
    try:
        if qresync:
            _say(watcher, watched, "e ENABLE QRESYNC")
        _say(watcher, watched, "u SEARCH RETURN (UPDATE) ALL")
        _say(changer, _changed, "a STORE 2,4 +FLAGS (\\Deleted)")
        _say(changer, _changed, "b STORE 5 +FLAGS (newword)")
        _say(changer, _changed, "c EXPUNGE")
        _say(changer, _changed, f"d APPEND INBOX {{{len(message('m5'))}+}}\r\n{message('m5').decode()}")
        start = len(watched)
        _say(watcher, watched, "n NOOP")
        return bytes(watched[start:]).split(b"\r\n")[:-2]  # without the tagged OK
    finally:
        watcher.close()
        changer.close()


def test_one_sync_on_the_shared_view_says_everything_in_order(imap_server):
    lines = _news_after_many_changes(imap_server, qresync=False)
    assert lines[0] == b'* ESEARCH (TAG "u") REMOVEFROM (0 2,4)'  # numbered before the EXPUNGEs
    assert lines[1:3] == [b"* 4 EXPUNGE", b"* 2 EXPUNGE"]  # highest first
    assert lines[3].startswith(b"* FLAGS (") and b"newword" in lines[3]  # announced before it shows
    assert b"newword" in lines[4] and lines[4].startswith(b"* OK [PERMANENTFLAGS")
    # five claimed at SELECT, two expunged; the appending session was told of the new one first
    assert lines[5:7] == [b"* 4 EXISTS", b"* 3 RECENT"]
    assert lines[7] == b"* 3 FETCH (FLAGS (\\Recent newword))"
    assert lines[8] == b'* ESEARCH (TAG "u") ADDTO (0 4)'
    assert len(lines) == 9


def test_one_sync_on_the_shared_view_under_qresync(imap_server):
    lines = _news_after_many_changes(imap_server, qresync=True)
    assert b"* VANISHED 2,4" in lines and not any(b"EXPUNGE" in line for line in lines)
    assert lines.index(b"* VANISHED 2,4") < lines.index(b"* 4 EXISTS")
