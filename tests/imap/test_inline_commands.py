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
    assert not session.is_light(parse_command(b"c FETCH 1 (BODY[])"))
    assert not session.is_light(parse_command(b"c SEARCH TEXT hello"))
    assert not session.is_light(parse_command(b"c COPY 1 Trash"))
