"""Extensions: ID, ENABLE, CONDSTORE, QUOTA, LITERAL+, AUTHENTICATE PLAIN (with SASL-IR), NAMESPACE caps."""

import base64
import socket

from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE, message


def test_capabilities_list_every_extension(imap_server):
    imap = imap_server.client()
    for cap in ("IMAP4REV1", "IDLE", "UIDPLUS", "MOVE", "NAMESPACE", "ID", "ENABLE", "LITERAL+", "SPECIAL-USE",
                "UNSELECT", "CONDSTORE", "QUOTA", "AUTH=PLAIN", "STARTTLS"):
        assert cap in imap.capabilities


def test_id(imap_server):
    imap = imap_server.client()
    typ, data = imap.xatom("ID", '("name" "pytest")')
    assert typ == "OK" and b"mailappliance" in imap.response("ID")[1][0]


def test_authenticate_plain(imap_server):
    imap = imap_server.client()
    typ, _ = imap.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{PASSWORD}".encode())
    assert typ == "OK" and imap.state == "AUTH"


def test_authenticate_plain_initial_response_and_wrong_password(imap_server):
    with socket.create_connection((imap_server.host, imap_server.port), timeout=5) as sock:
        f = sock.makefile("rwb")
        f.readline()
        bad = base64.b64encode(f"\0{ALICE}\0nope".encode())
        good = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode())
        f.write(b"a AUTHENTICATE PLAIN " + bad + b"\r\nb AUTHENTICATE PLAIN " + good + b"\r\n")
        f.flush()
        assert b"AUTHENTICATIONFAILED" in f.readline()
        assert f.readline().startswith(b"b OK")


def test_enable_condstore_and_modseq(imap_server):
    imap_server.deliver(message("a"))
    imap_server.deliver(message("b"))
    imap = imap_server.login()
    typ, data = imap._simple_command("ENABLE", "CONDSTORE")
    assert imap.response("ENABLED")[1] == [b"CONDSTORE"]
    imap.select("INBOX")
    highest = int(imap.response("HIGHESTMODSEQ")[1][0])
    imap.store("2", "+FLAGS", "\\Flagged")
    typ, data = imap.fetch("1:*", f"(FLAGS) (CHANGEDSINCE {highest})")
    assert len(data) == 1 and b"MODSEQ" in data[0] and data[0].startswith(b"2 ")
    typ, data = imap.search(None, "MODSEQ", str(highest + 1))
    assert data[0].startswith(b"2 (MODSEQ")


def test_store_unchangedsince_reports_modified(imap_server):
    imap_server.deliver(message("a"))
    imap = imap_server.login()
    assert imap._simple_command("SELECT", "INBOX", "(CONDSTORE)")[0] == "OK"
    imap.state = "SELECTED"
    modseq = int(imap.fetch("1", "(MODSEQ)")[1][0].split(b"MODSEQ (")[1].split(b")")[0])
    imap.store("1", "+FLAGS", "\\Seen")
    typ, data = imap._simple_command("STORE", "1", f"(UNCHANGEDSINCE {modseq})", "+FLAGS", "\\Flagged")
    assert typ == "OK" and b"MODIFIED 1" in data[0]


def test_quota(imap_server):
    imap_server.deliver(message("sized", body="x" * 5000 + "\r\n"))
    imap = imap_server.login()
    typ, data = imap.getquotaroot("INBOX")
    assert typ == "OK" and data[0] == [b'"INBOX" ""']
    typ, data = imap.getquota('""')
    assert typ == "OK"
    typ, data = imap._simple_command("SETQUOTA", '""', "(STORAGE 10)")
    assert typ == "NO"


def test_literal_plus_needs_no_continuation(imap_server):
    raw = message("lit+")
    with socket.create_connection((imap_server.host, imap_server.port), timeout=5) as sock:
        f = sock.makefile("rwb")
        f.readline()
        f.write(f"a LOGIN {{{len(ALICE)}+}}\r\n{ALICE} {{{len(PASSWORD)}+}}\r\n{PASSWORD}\r\n".encode())
        f.write(b"b APPEND INBOX {%d+}\r\n" % len(raw) + raw + b"\r\n")
        f.flush()
        assert f.readline().startswith(b"a OK")
        assert f.readline().startswith(b"b OK [APPENDUID")
    assert imap_server.store.mailbox(ALICE).folder("INBOX").exists == 1


def test_synchronising_literal_gets_continuation(imap_server):
    with socket.create_connection((imap_server.host, imap_server.port), timeout=5) as sock:
        f = sock.makefile("rwb")
        f.readline()
        f.write(b"a LOGIN {%d}\r\n" % len(ALICE))
        f.flush()
        assert f.readline().startswith(b"+ ")
        f.write(f'{ALICE} "{PASSWORD}"\r\n'.encode())
        f.flush()
        assert f.readline().startswith(b"a OK")


def test_authenticate_plain_refuses_another_authorization_identity(imap_server):
    import imaplib

    import pytest

    imap = imap_server.client()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHORIZATIONFAILED"):
        imap.authenticate("PLAIN", lambda _: f"bob@example.com\0{ALICE}\0{PASSWORD}".encode())
