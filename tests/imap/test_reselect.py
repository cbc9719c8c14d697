"""Selecting again what was selected: the session hands its open folder back to the store, which reuses it
only while it still is the folder of that name (deleted, made again, renamed or removed by hand: opened anew)."""

from __future__ import annotations

import shutil

from tests.imap.conftest import message


def test_select_again_sees_what_changed_meanwhile(imap_server):
    imap_server.deliver(message("one"))
    imap = imap_server.login()
    assert imap.select("INBOX") == ("OK", [b"1"])
    imap_server.deliver(message("two"))  # another process: delivery
    assert imap.select("INBOX") == ("OK", [b"2"])
    assert imap.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1] == b"Subject: two\r\n\r\n"


def test_a_folder_deleted_and_made_again_is_the_new_folder(imap_server):
    imap = imap_server.login()
    other = imap_server.login()
    imap.create("Work")
    imap.append("Work", None, None, message("old work"))
    assert imap.select("Work") == ("OK", [b"1"])
    other.delete("Work")
    other.create("Work")
    other.append("Work", None, None, message("new work"))
    other.append("Work", None, None, message("newer work"))
    assert imap.select("Work") == ("OK", [b"2"])
    typ, data = imap.fetch("1", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1] == b"Subject: new work\r\n\r\n"


def test_a_renamed_folder_is_not_reached_by_its_old_name(imap_server):
    imap = imap_server.login()
    other = imap_server.login()
    imap.create("Old")
    imap.append("Old", None, None, message("kept"))
    assert imap.select("Old") == ("OK", [b"1"])
    other.rename("Old", "New")
    typ, data = imap.select("Old")
    assert typ == "NO"
    assert imap.select("New") == ("OK", [b"1"])


def test_a_folder_removed_by_hand_is_gone(imap_server):
    imap = imap_server.login()
    imap.create("Gone")
    assert imap.select("Gone") == ("OK", [b"0"])
    shutil.rmtree(imap_server.store.mailbox("alice@example.com").folder("Gone").path)
    typ, _ = imap.select("Gone")
    assert typ == "NO"


def test_the_store_reuses_the_open_folder(imap_server):
    """The point of it: selecting INBOX again opens no new folder object."""
    box = imap_server.store.mailbox("alice@example.com")
    inbox = box.folder("INBOX")
    assert box.folder("INBOX", reuse=inbox) is inbox
    assert box.folder("Sent", reuse=inbox) is not inbox
    assert imap_server.store.mailbox("bob@example.com").folder("INBOX", reuse=inbox) is not inbox
