"""Which commands the server may run inline (index-only, few messages) and which go to a worker thread."""

from agents.imap import selected
from agents.imap.parser import parse_command
from agents.imap.session import Session
from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE, fake_authenticate, message


def test_light_and_heavy_commands(imap_store):
    selected._warm.clear()  # what earlier tests in this process selected
    for i in range(3):
        imap_store.mailbox(ALICE).deliver(message(f"m{i}"))
    session = Session(imap_store.mailbox, fake_authenticate, plaintext_login=True)
    login = parse_command(f'a LOGIN {ALICE} "{PASSWORD}"'.encode())
    assert not session.is_light(login)  # password hashing never blocks the event loop
    session.execute(login)
    select = parse_command(b"b SELECT INBOX")
    assert not session.is_light(select)  # a cold listing may be large
    session.execute(select)
    assert session.is_light(select)  # small, and listed a moment ago
    selected._mark_warm(ALICE, "INBOX", 100_000)
    for other in range(selected.WARM_KEPT):
        selected._mark_warm(ALICE, f"Other{other}", 100_000)
    assert not session.is_light(select)  # big, and the store has listed 8 other folders since
    assert session.is_light(parse_command(b"c NOOP"))
    assert session.is_light(parse_command(b"c FETCH 1:* (FLAGS ENVELOPE)"))
    assert session.is_light(parse_command(b"c FETCH 1 (BODY[])"))  # one small file: cheaper than two thread hops
    assert session.is_light(parse_command(b"c UID FETCH 2 (BODY.PEEK[1])"))
    assert not session.is_light(parse_command(b"c FETCH 1:3 (BODY[])"))  # several files
    assert session.is_light(parse_command(b"c SEARCH UNSEEN NOT FLAGGED"))  # the view's flags, one pass
    assert not session.is_light(parse_command(b"c SEARCH FROM bob"))  # a query over the cached headers
    assert not session.is_light(parse_command(b"c SEARCH TEXT hello"))
    assert not session.is_light(parse_command(b"c COPY 1 Trash"))


def test_a_big_body_is_read_in_a_worker_thread(imap_store):
    from agents.imap import session as session_module

    imap_store.mailbox(ALICE).deliver(message("small"))
    big = message("huge", body=("y" * 998 + "\n") * (session_module.INLINE_BODY_BYTES // 999 + 1))
    imap_store.mailbox(ALICE).deliver(big)
    session = Session(imap_store.mailbox, fake_authenticate, plaintext_login=True)
    session.execute(parse_command(f'a LOGIN {ALICE} "{PASSWORD}"'.encode()))
    session.execute(parse_command(b"b SELECT INBOX"))
    assert session.is_light(parse_command(b"c FETCH 1 (BODY.PEEK[])"))
    assert not session.is_light(parse_command(b"c FETCH 2 (BODY.PEEK[])"))  # over INLINE_BODY_BYTES
