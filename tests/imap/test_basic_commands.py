"""The small RFC 3501 commands: CAPABILITY, NOOP, CHECK, LOGOUT, UID COPY, and over-quota APPEND/COPY."""

from agents.imap.session import User
from tests.imap.conftest import ALICE, message


def test_check_noop_and_logout(imap_server):
    imap_server.deliver(message())
    imap = imap_server.login()
    imap.select("INBOX")
    assert imap.check()[0] == "OK"
    assert imap.noop()[0] == "OK"
    typ, data = imap.logout()
    assert typ == "BYE"


def test_capability_after_login_has_no_starttls(imap_server):
    imap = imap_server.login()
    typ, data = imap.capability()
    assert typ == "OK" and b"STARTTLS" not in data[0] and b"IDLE" in data[0]


def test_uid_copy(imap_server):
    imap_server.deliver(message("a"))
    imap_server.deliver(message("b"))
    imap = imap_server.login()
    imap.select("INBOX")
    typ, data = imap._simple_command("UID", "COPY", "2", "Sent")
    assert typ == "OK" and b"COPYUID" in data[0]
    assert imap_server.store.mailbox(ALICE).folder("Sent").exists == 1


def test_over_quota_append_is_refused(imap_server):
    server = imap_server.server
    real = server.authenticate
    server.authenticate = lambda a, p: User(real(a, p).address, quota=100) if real(a, p) else None
    try:
        imap = imap_server.login()
        typ, data = imap.append("INBOX", None, None, message(body="x" * 500))
        assert typ == "NO" and b"OVERQUOTA" in data[0]
        typ, data = imap.getquotaroot("INBOX")
        assert data[1][0] == b'"" (STORAGE 0 1)'
    finally:
        server.authenticate = real
