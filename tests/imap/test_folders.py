"""Folder commands: LIST/LSUB with special-use, CREATE/RENAME/DELETE, SUBSCRIBE, STATUS, NAMESPACE."""

import pytest

from tests.imap.conftest import message


def test_list_shows_special_use_folders(imap_server):
    imap = imap_server.login()
    typ, data = imap.list()
    assert typ == "OK"
    lines = b"\n".join(data)
    assert b'"INBOX"' in lines
    assert b"\\Sent" in lines and b"\\Trash" in lines and b"\\Drafts" in lines and b"\\Junk" in lines


def test_list_special_use_selection_lists_only_those(imap_server):
    imap = imap_server.login()
    typ, data = imap._simple_command("LIST", "(SPECIAL-USE)", '""', "*")
    typ, data = imap._untagged_response(typ, data, "LIST")
    assert typ == "OK" and len(data) == 4 and not any(b"INBOX" in d for d in data)


def test_create_rename_delete_folder(imap_server):
    imap = imap_server.login()
    assert imap.create("Projects/2026")[0] == "OK"
    assert imap.rename("Projects/2026", "Projects/Done")[0] == "OK"
    names = b"\n".join(imap.list('""', "Projects/*")[1])
    assert b"Projects/Done" in names and b"2026" not in names
    assert imap.delete("Projects/Done")[0] == "OK"
    assert imap.create("INBOX")[0] == "NO"


def test_unicode_folder_names_travel_as_modified_utf7(imap_server):
    imap = imap_server.login()
    assert imap.create('"Entw&APw-rfe"')[0] == "OK"
    assert imap_server.store.mailbox("alice@example.com").folder("Entwürfe").name == "Entwürfe"
    assert b"Entw&APw-rfe" in b"\n".join(imap.list()[1])


def test_a_non_canonical_modified_utf7_name_is_refused(imap_server):
    """Two wire names never reach one folder: only the canonical spelling is accepted."""
    imap = imap_server.login()
    assert imap.create("abc")[0] == "OK"
    for command in ("SELECT", "CREATE", "DELETE"):
        for wire in ('"&AGEAYgBj-"', '"&ACY-"', '"&AOk-&AOk-"'):  # "abc", "&", "éé" spelled non-canonically
            with pytest.raises(imap.error, match="canonical"):  # imaplib raises on BAD
                imap._simple_command(command, wire)
    assert [f.name for f in imap_server.store.mailbox("alice@example.com").list_folders()].count("abc") == 1
    assert imap.select("abc")[0] == "OK"


def test_percent_matches_one_level(imap_server):
    imap = imap_server.login()
    imap.create("A/B/C")
    data = b"\n".join(imap.list('""', "%")[1])
    assert b'"A"' in data and b"A/B" not in data


def test_subscribe_and_lsub(imap_server):
    imap = imap_server.login()
    imap.create("Lists")
    assert imap.subscribe("Lists")[0] == "OK"
    assert b"Lists" in b"\n".join(imap.lsub()[1])
    assert imap.unsubscribe("Lists")[0] == "OK"
    assert b"Lists" not in b"\n".join(d or b"" for d in imap.lsub()[1])


def test_status_counts(imap_server):
    imap_server.deliver(message("one"))
    imap_server.deliver(message("two"))
    imap = imap_server.login()
    typ, data = imap.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY HIGHESTMODSEQ RECENT)")
    assert typ == "OK"
    assert b"MESSAGES 2" in data[0] and b"UNSEEN 2" in data[0] and b"UIDNEXT 3" in data[0]


def test_namespace(imap_server):
    imap = imap_server.login()
    typ, data = imap.namespace()
    assert typ == "OK" and data[0] == b'(("" "/")) NIL NIL'


def test_select_missing_folder_is_no(imap_server):
    imap = imap_server.login()
    assert imap.select("Nope")[0] == "NO"


def test_examine_is_read_only(imap_server):
    imap_server.deliver(message())
    imap = imap_server.login()
    typ, _ = imap.select("INBOX", readonly=True)
    assert typ == "OK"
    assert imap.store("1", "+FLAGS", "\\Seen")[0] == "NO"
    imap.fetch("1", "(BODY[])")
    assert "\\Seen" not in imap_server.store.mailbox("alice@example.com").folder("INBOX").messages()[0].flags
