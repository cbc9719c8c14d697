"""COPY, MOVE (RFC 6851), EXPUNGE, UID EXPUNGE and COPYUID/APPENDUID (UIDPLUS), CLOSE, UNSELECT."""

from tests.imap.conftest import ALICE, message


def _select(imap_server, count=3):
    for i in range(count):
        imap_server.deliver(message(f"m{i}"))
    imap = imap_server.login()
    imap.select("INBOX")
    return imap


def test_copy_reports_copyuid(imap_server):
    imap = _select(imap_server)
    typ, data = imap.copy("1:2", "Trash")
    assert typ == "OK" and data[0].startswith(b"[COPYUID ") and data[0].split()[2:4] == [b"1:2", b"1:2]"]
    assert imap_server.store.mailbox(ALICE).folder("Trash").exists == 2


def test_copy_to_missing_folder_says_trycreate(imap_server):
    imap = _select(imap_server)
    typ, data = imap.copy("1", "Nowhere")
    assert typ == "NO" and b"TRYCREATE" in data[0]


def test_move_expunges_from_source(imap_server):
    imap = _select(imap_server)
    typ, data = imap._simple_command("MOVE", "2", "Junk")
    assert typ == "OK"
    assert imap.response("EXPUNGE")[1] == [b"2"]
    assert imap.response("OK")[1][0].startswith(b"[COPYUID")
    assert imap.search(None, "ALL")[1] == [b"1 2"]
    assert imap_server.store.mailbox(ALICE).folder("Junk").exists == 1


def test_uid_move(imap_server):
    imap = _select(imap_server)
    typ, _ = imap.uid("MOVE", "3", "Trash")
    assert typ == "OK" and imap.uid("SEARCH", "ALL")[1] == [b"1 2"]


def test_expunge_removes_deleted(imap_server):
    imap = _select(imap_server)
    imap.store("1,3", "+FLAGS", "\\Deleted")
    typ, data = imap.expunge()
    assert typ == "OK" and data == [b"3", b"1"]  # highest first, as Dovecot: no number shifts meanwhile
    assert imap_server.store.mailbox(ALICE).folder("INBOX").exists == 1


def test_uid_expunge_only_named_uids(imap_server):
    imap = _select(imap_server)
    imap.store("1:3", "+FLAGS", "\\Deleted")
    typ, _ = imap.uid("EXPUNGE", "2")
    assert typ == "OK"
    assert imap.uid("SEARCH", "ALL")[1] == [b"1 3"]


def test_close_expunges_and_unselect_does_not(imap_server):
    imap = _select(imap_server)
    imap.store("1", "+FLAGS", "\\Deleted")
    assert imap.unselect()[0] == "OK"
    assert imap_server.store.mailbox(ALICE).folder("INBOX").exists == 3
    imap.select("INBOX")
    assert imap.close()[0] == "OK"
    assert imap_server.store.mailbox(ALICE).folder("INBOX").exists == 2


def test_append_with_flags_and_date(imap_server):
    imap = imap_server.login()
    raw = message("appended")
    typ, data = imap.append("Drafts", "(\\Draft \\Seen)", '"01-Feb-2024 10:00:00 +0100"', raw)
    assert typ == "OK" and data[0].startswith(b"[APPENDUID ")
    folder = imap_server.store.mailbox(ALICE).folder("Drafts")
    meta = folder.messages()[0]
    assert folder.read(meta.uid) == raw and meta.flags == {"\\Draft", "\\Seen"}
    imap.select("Drafts")
    assert b'" 1-Feb-2024 09:00:00 +0000"' in imap.fetch("1", "INTERNALDATE")[1][0]  # the same instant, in UTC


def test_append_to_missing_folder_says_trycreate(imap_server):
    imap = imap_server.login()
    typ, data = imap.append("Missing", None, None, message())
    assert typ == "NO" and b"TRYCREATE" in data[0]
