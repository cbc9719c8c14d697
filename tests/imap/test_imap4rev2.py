"""IMAP4rev2 (RFC 9051) beside IMAP4rev1: ENABLE IMAP4rev2 switches one session, and only that one.

Dovecot 2.3 (the reference server of the differential tests) does not speak IMAP4rev2, so these
tests follow RFC 9051's text and examples: the same connection answers as IMAP4rev1 before ENABLE
(byte for byte what a session that never enables it gets) and as IMAP4rev2 after, while another
session on the same folder stays IMAP4rev1. A real client library (imapclient) is driven through the
switch at the end.
"""

from __future__ import annotations

import re
import unicodedata

from imapclient import IMAPClient

from agents.imap.parser import Status, parse_command
from tests.conftest import PASSWORD
from tests.fakes import dovecot

from .conftest import ALICE, message
from .conversation import Client

CRLF = b"\r\n"


def _client(imap_server) -> Client:
    return Client(imap_server.host, imap_server.port, ALICE, PASSWORD)


def _untagged(response: bytes) -> list[bytes]:
    return [line for line in response.split(CRLF) if line.startswith(b"* ")]


def _tagged(response: bytes) -> bytes:
    return response.rstrip(CRLF).split(CRLF)[-1]


def _no_tags(response: bytes) -> bytes:
    """A response without its tag, so the same command sent under two tags compares."""
    return re.sub(rb"^t\d+ ", b"T ", response, flags=re.M)


def test_both_revisions_advertised_and_enable_answers_in_its_spelling(imap_server):
    c = _client(imap_server)
    try:
        caps = _untagged(c.command("CAPABILITY"))[0].split()
        assert caps[2:4] == [b"IMAP4rev1", b"IMAP4rev2"]
        # what IMAP4rev2 takes in (RFC 9051 Appendix E) is advertised on its own too, for rev1 clients
        for cap in (b"NAMESPACE", b"UNSELECT", b"UIDPLUS", b"ESEARCH", b"SEARCHRES", b"ENABLE", b"IDLE",
                    b"SASL-IR", b"LIST-EXTENDED", b"LIST-STATUS", b"MOVE", b"LITERAL+", b"BINARY", b"SPECIAL-USE",
                    b"STATUS=SIZE"):
            assert cap in caps, cap
        response = c.command("ENABLE imap4rev2")
        assert _untagged(response) == [b"* ENABLED IMAP4rev2"] and b" OK " in _tagged(response)
        response = c.command("ENABLE CONDSTORE XUNKNOWN IMAP4REV2")
        assert _untagged(response) == [b"* ENABLED CONDSTORE IMAP4rev2"]
    finally:
        c.close()


def test_select_search_and_fetch_before_and_after_enable_on_one_connection(imap_server):
    for i in range(3):
        imap_server.deliver(message(f"m{i}", f"body {i}\r\n"))
    c = _client(imap_server)
    plain = _client(imap_server)  # never enables: its answers are what rev1 was before this work
    try:
        rev1 = c.command("EXAMINE INBOX")
        assert b"* 3 RECENT" in rev1 and b"* OK [UNSEEN 1]" in rev1 and b"* LIST" not in rev1
        assert _no_tags(rev1) == _no_tags(plain.command("EXAMINE INBOX"))
        for command in ("SEARCH UNSEEN", "UID SEARCH ALL", "FETCH 1:* (FLAGS)", "STATUS INBOX (MESSAGES RECENT)"):
            assert _no_tags(c.command(command)) == _no_tags(plain.command(command)), command
        assert _untagged(c.command("SEARCH ALL")) == [b"* SEARCH 1 2 3"]
        assert b"\\Recent" in c.command("FETCH 1 (FLAGS)")  # EXAMINE shows unclaimed messages as recent
        c.command("UNSELECT")

        c.command("ENABLE IMAP4rev2")
        rev2 = c.command("SELECT INBOX")
        lines = _untagged(rev2)
        assert not any(b"RECENT" in line or b"[UNSEEN" in line for line in lines), lines
        assert b"* 3 EXISTS" in lines
        # RFC 9051 §6.3.2: the folder's LIST comes with SELECT; FLAGS and PERMANENTFLAGS name the §2.3.2 keywords
        assert b'* LIST (\\HasNoChildren) "/" "INBOX"' in lines
        flags = next(line for line in lines if line.startswith(b"* FLAGS"))
        permanent = next(line for line in lines if b"[PERMANENTFLAGS" in line)
        for keyword in (b"$Junk", b"$NotJunk", b"$Phishing", b"$Forwarded", b"$MDNSent"):
            assert keyword in flags and keyword in permanent
        assert b"\\*" in permanent and b"[READ-WRITE]" in _tagged(rev2)
        # SEARCH is answered by ESEARCH (RFC 9051 §6.4.4), as RETURN (ALL) would be; empty results leave ALL out
        tag = c.send("SEARCH ALL")
        assert _untagged(c.read(tag)) == [b'* ESEARCH (TAG "%s") ALL 1:3' % tag.encode()]
        tag = c.send("UID SEARCH DELETED")
        assert _untagged(c.read(tag)) == [b'* ESEARCH (TAG "%s") UID' % tag.encode()]
        tag = c.send("SEARCH RETURN (COUNT) ALL")
        assert _untagged(c.read(tag)) == [b'* ESEARCH (TAG "%s") COUNT 3' % tag.encode()]
        # no \Recent in FETCH, although this read-write SELECT would have claimed them under rev1
        assert b"\\Recent" not in c.command("FETCH 1:* (FLAGS)")
        assert b"RECENT" not in c.command("NOOP")
        # the rev1 session still sees them as recent: a rev2 SELECT claims nothing
        assert b"\\Recent" in plain.command("FETCH 1:* (FLAGS)")
        # FETCH BINARY is there in both (RFC 9051 has it in the base)
        assert b"BINARY[1] {8}\r\nbody 0\r\n" in c.command("FETCH 1 (BINARY.PEEK[1])")
    finally:
        c.close()
        plain.close()


def test_new_mail_after_enable_sends_exists_without_recent(imap_server):
    imap_server.deliver(message("first"))
    rev2, rev1 = _client(imap_server), _client(imap_server)
    try:
        rev2.command("ENABLE IMAP4rev2")
        rev2.command("SELECT INBOX")
        rev1.command("EXAMINE INBOX")
        other = _client(imap_server)
        other.command("APPEND INBOX", message("second"))
        other.close()
        news = _untagged(rev2.command("NOOP"))
        assert news == [b"* 2 EXISTS"]
        news = _untagged(rev1.command("NOOP"))
        assert b"* 2 EXISTS" in news and b"* 2 RECENT" in news  # rev1 unchanged: both still unclaimed
        assert b"\\Recent" not in rev2.command("FETCH 2 (FLAGS)")
    finally:
        rev2.close()
        rev1.close()


def test_enable_while_selected_stops_recent_from_then_on(imap_server):
    imap_server.deliver(message("first"))
    c = _client(imap_server)
    try:
        assert b"* 1 RECENT" in c.command("SELECT INBOX")
        assert b"\\Recent" in c.command("FETCH 1 (FLAGS)")
        c.command("ENABLE IMAP4rev2")
        assert b"\\Recent" not in c.command("FETCH 1 (FLAGS)")
        other = _client(imap_server)
        other.command("APPEND INBOX", message("second"))
        other.close()
        assert _untagged(c.command("NOOP")) == [b"* 2 EXISTS"]
    finally:
        c.close()


def test_utf8_mailbox_names_after_enable_and_modified_utf7_before(imap_server):
    c = _client(imap_server)
    try:
        assert b" OK " in _tagged(c.command('CREATE "B&APw-ro"'))
        listed = c.command('LIST "" "B*"')
        assert b'"B&APw-ro"' in listed and "Büro".encode() not in listed
        c.command("ENABLE IMAP4rev2")
        listed = c.command('LIST "" "B*"')
        assert '* LIST (\\HasNoChildren) "/" "Büro"'.encode() in _untagged(listed)
        # a UTF-8 name from the client; "&" is an ordinary character now (no modified UTF-7 after ENABLE)
        assert b" OK " in _tagged(c.command('CREATE "Ärger & Co"'.encode()))
        status = c.command('STATUS "Ärger & Co" (MESSAGES)'.encode())
        assert '* STATUS "Ärger & Co" (MESSAGES 0)'.encode() in _untagged(status)
        assert b" OK " in _tagged(c.command('APPEND "Büro"'.encode(), message("x")))
        assert b"* 1 EXISTS" in c.command('SELECT "Büro"'.encode())
        # a rev1 session names the same folders in modified UTF-7
        plain = _client(imap_server)
        try:
            names = plain.command('LIST "" "*"')
            assert b'"B&APw-ro"' in names and b'"&AMQ-rger &- Co"' in names
            assert b"* 1 EXISTS" in plain.command('EXAMINE "B&APw-ro"')
        finally:
            plain.close()
        # after ENABLE, "B&APw-ro" is a name of its own: no such folder
        assert b"[NONEXISTENT]" in _tagged(c.command('SELECT "B&APw-ro"'))
        # bytes that are not UTF-8 are a protocol error, not a folder
        assert b" BAD " in _tagged(c.command(b'SELECT "\xc3("'))
    finally:
        c.close()


def test_normalised_names_are_told_with_oldname(imap_server):
    decomposed = unicodedata.normalize("NFD", "Café")  # "e" + U+0301 COMBINING ACUTE ACCENT
    c = _client(imap_server)
    try:
        c.command("ENABLE IMAP4rev2")
        created = c.command(f'CREATE "{decomposed}"'.encode())
        # RFC 9051 §6.3.4: created under the NFC name, told with the supplied one as OLDNAME
        assert _untagged(created) == [f'* LIST (\\HasNoChildren) "/" "Café" ("OLDNAME" ("{decomposed}"))'
                                      .encode()]
        assert b" OK " in _tagged(created)
        selected = _untagged(c.command(f'SELECT "{decomposed}"'.encode()))
        assert f'* LIST (\\HasNoChildren) "/" "Café" ("OLDNAME" ("{decomposed}"))'.encode() in selected
        listed = c.command('LIST "" "Caf*"')
        assert _untagged(listed) == ['* LIST (\\HasNoChildren) "/" "Café"'.encode()]
        renamed = c.command('RENAME "Café" "Bistro"'.encode())
        assert _untagged(renamed) == [b'* LIST (\\HasNoChildren) "/" "Bistro" ("OLDNAME" ("Caf\xc3\xa9"))']
        deleted = c.command(f'DELETE "{unicodedata.normalize("NFD", "Bistro")}"'.encode())  # NFD of ASCII: same
        assert _untagged(deleted) == []
        c.command(f'CREATE "{decomposed}"'.encode())
        deleted = c.command(f'DELETE "{decomposed}"'.encode())
        assert _untagged(deleted) == [f'* LIST (\\NonExistent) "/" "Café" ("OLDNAME" ("{decomposed}"))'.encode()]
    finally:
        c.close()


def test_list_status_and_nonexistent_after_enable(imap_server):
    box = imap_server.store.mailbox(ALICE)
    box.create_folder("Projects/2026")
    for i in range(2):
        imap_server.deliver(message(f"p{i}", "x" * 10), folder="Projects/2026")
    c = _client(imap_server)
    try:
        before = c.command('LIST "" "Projects*"')
        assert b'* LIST (\\Noselect \\HasChildren) "/" "Projects"' in _untagged(before)
        assert b" BAD " in _tagged(c.command("STATUS INBOX (DELETED)"))  # not an IMAP4rev1 item
        c.command("ENABLE IMAP4rev2")
        after = _untagged(c.command('LIST "" "Projects*"'))
        assert after[0] == b'* LIST (\\NonExistent \\HasChildren) "/" "Projects"'
        c.command('SELECT "Projects/2026"')
        c.command("STORE 1 +FLAGS (\\Deleted)")
        c.command("UNSELECT")
        status = _untagged(c.command('STATUS "Projects/2026" (MESSAGES DELETED SIZE UNSEEN)'))
        size = imap_server.store.mailbox(ALICE).folder("Projects/2026").size
        assert status == [b'* STATUS "Projects/2026" (MESSAGES 2 DELETED 1 SIZE %d UNSEEN 2)' % size]
        # there is no \Recent in IMAP4rev2, so no RECENT status item
        assert b" BAD " in _tagged(c.command("STATUS INBOX (RECENT)"))
        listed = _untagged(c.command('LIST "" "Projects/%" RETURN (STATUS (DELETED MESSAGES))'))
        assert listed == [b'* LIST () "/" "Projects/2026"',  # extended LIST: children only when asked
                          b'* STATUS "Projects/2026" (DELETED 1 MESSAGES 2)']
        subscribed = _untagged(c.command('LIST (SUBSCRIBED) "" "INBOX"'))
        assert subscribed == [b'* LIST (\\Subscribed) "/" "INBOX"']
    finally:
        c.close()


def test_rev1_session_unchanged_beside_a_rev2_one(imap_server):
    """Two sessions run the same script; one enabled IMAP4rev2 on another connection meanwhile: the rev1
    answers are equal to those of a server that never heard of rev2 (a fresh rev1 session's)."""
    for i in range(2):
        imap_server.deliver(message(f"m{i}"))
    imap_server.store.mailbox(ALICE).create_folder("B\u00fcro")
    rev2 = _client(imap_server)
    first, second = _client(imap_server), _client(imap_server)
    try:
        rev2.command("ENABLE IMAP4rev2")
        rev2.command("EXAMINE INBOX")
        script = ['LIST "" "*"', "STATUS INBOX (MESSAGES RECENT UNSEEN SIZE)", "EXAMINE INBOX",
                  "FETCH 1:* (FLAGS)", "SEARCH ALL", 'LIST "" "*" RETURN (STATUS (MESSAGES))']
        for command in script:
            assert _no_tags(first.command(command)) == _no_tags(second.command(command)), command
        assert b'"B&APw-ro"' in first.command('LIST "" "B*"')
    finally:
        for c in (rev2, first, second):
            c.close()


def test_parser_reads_names_by_revision():
    """Parsing stays pure: the session says whether names are UTF-8; the parser keeps no state."""
    cmd = parse_command(b'a STATUS "&AMQ-" (MESSAGES)')
    assert isinstance(cmd, Status) and cmd.mailbox == "Ä" and cmd.normalised == ()
    cmd = parse_command(b'a STATUS "&AMQ-" (MESSAGES)', utf8=True)
    assert isinstance(cmd, Status) and cmd.mailbox == "&AMQ-"
    cmd = parse_command('a STATUS "A\u0308" (DELETED)'.encode(), utf8=True)
    assert isinstance(cmd, Status) and cmd.mailbox == "Ä" and cmd.normalised == (("A\u0308", "Ä"),)
    assert cmd.items == ("DELETED",)
    cmd = parse_command(b'a SELECT inbox', utf8=True)
    assert cmd.mailbox == "INBOX"  # type: ignore[attr-defined]


def test_imapclient_through_the_switch(imap_server):
    """A real client library: enable IMAP4rev2, list and select UTF-8 names, fetch, use ESEARCH results."""
    imap_server.store.mailbox(ALICE).create_folder("Entwürfe")
    imap_server.deliver(message("hello", "hi\r\n"), folder="Entwürfe")
    client = IMAPClient(imap_server.host, port=imap_server.port, ssl=False, timeout=10)
    try:
        client.login(ALICE, PASSWORD)
        assert b"IMAP4REV2" in {c.upper() for c in client.capabilities()}
        assert "Entwürfe" in [name for _flags, _sep, name in client.list_folders()]  # decoded from mUTF-7
        assert client.enable("IMAP4rev2") == [b"IMAP4rev2"]
        # UTF-8 names from now on, as RFC 9051 says: imapclient stops encoding to modified UTF-7, and imaplib
        # sends UTF-8 (its own switch, which its enable() flips for UTF8=ACCEPT but not for IMAP4rev2)
        client.folder_encode = False
        client._imap._mode_utf8()
        names = [name for _flags, _sep, name in client.list_folders()]
        assert "Entwürfe" in [n.decode() if isinstance(n, bytes) else n for n in names]
        info = client.select_folder("Entwürfe")
        assert info[b"EXISTS"] == 1 and b"RECENT" not in info
        fetched = client.fetch([1], ["BODY.PEEK[TEXT]", "FLAGS"])
        assert fetched[1][b"BODY[TEXT]"] == b"hi\r\n" and b"\\Recent" not in fetched[1][b"FLAGS"]
        typ, data = client._imap._simple_command("SEARCH", "ALL")  # imapclient's search() predates ESEARCH
        assert typ == "OK" and client._imap.untagged_responses.pop("ESEARCH")[0].endswith(b" ALL 1")
    finally:
        client.logout()


def test_reference_dovecot_does_not_speak_imap4rev2():
    """Why the tests above follow RFC 9051 and not Dovecot: the Dovecot the differential tests run (Debian's
    2.3) neither advertises IMAP4rev2 nor enables it. When this fails, the reference has learnt it, and the
    switching tests should become differential ones."""
    reference = dovecot.start({ALICE: PASSWORD})
    try:
        c = Client("127.0.0.1", reference.imap_port, ALICE, PASSWORD)
        try:
            assert b"IMAP4rev2" not in c.command("CAPABILITY")
            response = c.command("ENABLE IMAP4rev2")
            assert b"IMAP4rev2" not in response and b" OK " in _tagged(response)
        finally:
            c.close()
    finally:
        reference.stop()


def test_a_folder_named_outside_nfc_stays_reachable_after_enable(imap_server):
    """A rev1 client may make a folder whose name is not in NFC (modified UTF-7 of "e" + U+0301): a rev2
    session sees that name as it is and can open it by it; a new name is still made in NFC."""
    decomposed = unicodedata.normalize("NFD", "Café")
    c = _client(imap_server)
    try:
        assert b" OK " in _tagged(c.command('CREATE "Cafe&AwE-"'))  # rev1: modified UTF-7, kept as given
        c.command("ENABLE IMAP4rev2")
        assert _untagged(c.command('LIST "" "Caf*"')) == [f'* LIST (\\HasNoChildren) "/" "{decomposed}"'.encode()]
        # a pattern matches in NFC, whichever form the client and the folder name are in
        assert _untagged(c.command('LIST "" "Café"'.encode())) == _untagged(c.command('LIST "" "Caf*"'))
        selected = c.command(f'SELECT "{decomposed}"'.encode())
        assert b" OK " in _tagged(selected) and b"OLDNAME" not in selected
        assert f'* LIST (\\HasNoChildren) "/" "{decomposed}"'.encode() in _untagged(selected)
        status = c.command(f'STATUS "{decomposed}" (MESSAGES)'.encode())
        assert _untagged(status) == [f'* STATUS "{decomposed}" (MESSAGES 0)'.encode()]
    finally:
        c.close()


def test_the_extensions_imap4rev2_takes_in_work_in_a_rev2_session(imap_server):
    """RFC 9051 Appendix E folds NAMESPACE, UNSELECT, UIDPLUS, ESEARCH, SEARCHRES, ENABLE, IDLE,
    LIST-EXTENDED, LIST-STATUS, MOVE, LITERAL-, BINARY and SPECIAL-USE into the base: each is used here
    after ENABLE IMAP4rev2 (SASL-IR comes before login: tests/imap/test_extensions.py)."""
    names = {f.name for f in imap_server.store.mailbox(ALICE).list_folders()}
    if "Sent" not in names:
        imap_server.store.mailbox(ALICE).create_folder("Sent")
    c = _client(imap_server)
    try:
        c.command("ENABLE IMAP4rev2")
        assert _untagged(c.command("NAMESPACE")) == [b'* NAMESPACE (("" "/")) NIL NIL']
        assert b'* LIST (\\Sent) "/" "Sent"' in _untagged(c.command('LIST (SPECIAL-USE) "" "*"'))
        small = message("literal minus")  # a {n+} literal under 4 KiB is LITERAL-
        appended = _tagged(c.command("APPEND INBOX (\\Seen $Junk)", small))
        assert re.search(rb"OK \[APPENDUID \d+ 1\]", appended), appended
        listed = _untagged(c.command('LIST "" "INBOX" RETURN (STATUS (MESSAGES SIZE))'))
        assert listed[1] == b'* STATUS "INBOX" (MESSAGES 1 SIZE %d)' % len(small)
        c.command("SELECT INBOX")
        assert b"$Junk" in c.command("FETCH 1 (FLAGS)")
        assert _untagged(c.command("SEARCH RETURN (SAVE) ALL")) == []  # SEARCHRES: SAVE alone answers nothing
        assert _untagged(c.command("FETCH $ (UID)")) == [b"* 1 FETCH (UID 1)"]
        assert b"BINARY.SIZE[1] %d" % len(b"Hi there.\r\n") in c.command("FETCH 1 (BINARY.SIZE[1])")
        other = _client(imap_server)
        tag = c.send("IDLE")
        assert c._line().startswith(b"+ ")
        other.command("APPEND INBOX", message("during idle"))
        other.close()
        assert c._line() == b"* 2 EXISTS\r\n"  # and no RECENT after it
        c.sock.sendall(b"DONE\r\n")
        assert _untagged(c.read(tag)) == []
        moved = c.command("UID MOVE 2 Sent")
        assert re.search(rb"^\* OK \[COPYUID \d+ 2 1\]", moved, re.M) and b"* 2 EXPUNGE" in moved
        assert b" OK " in _tagged(c.command("UID EXPUNGE 1"))  # UIDPLUS; nothing marked \Deleted: nothing goes
        assert b" OK " in _tagged(c.command("UNSELECT"))
        status = _untagged(c.command("STATUS Sent (MESSAGES UIDNEXT)"))
        assert status == [b'* STATUS "Sent" (MESSAGES 1 UIDNEXT 2)']
    finally:
        c.close()
