"""The session state machine against an in-memory maildrop (no sockets, no storage)."""

from __future__ import annotations

import asyncio
import base64

from agents.pop3.session import State

from .memdrop import MemoryBackend, make_session

ALICE = "alice@example.com"
MAIL = {
    1: b"Subject: one\r\n\r\nbody one\r\n",
    2: b"Subject: two\r\n\r\n.dotted\r\nline2\r\n",
    5: b"Subject: five\r\n\r\nx\r\n",
}


def run(session, *lines: bytes) -> list[bytes]:
    async def go() -> list[bytes]:
        out = []
        for line in lines:
            reply = await session.handle(line)
            out.append(b"".join(reply.data))
        return out

    return asyncio.run(go())


def backend() -> MemoryBackend:
    return MemoryBackend(users={ALICE: "pw"}, mail={ALICE: dict(MAIL)})


def test_login_stat_list_uidl_retr_top():
    session = make_session(backend())
    out = run(session, b"USER alice@example.com", b"PASS pw", b"STAT", b"LIST", b"UIDL 3", b"RETR 2", b"TOP 1 0")
    assert out[1].startswith(b"+OK")
    assert session.state is State.TRANSACTION
    sizes = [len(MAIL[u]) for u in (1, 2, 5)]
    assert out[2] == f"+OK 3 {sum(sizes)}\r\n".encode()
    assert out[3] == b"+OK\r\n" + "".join(f"{i} {s}\r\n" for i, s in enumerate(sizes, 1)).encode() + b".\r\n"
    assert out[4] == b"+OK 3 7.5\r\n"
    assert out[5] == f"+OK {sizes[1]} octets\r\n".encode() + b"Subject: two\r\n\r\n..dotted\r\nline2\r\n.\r\n"
    assert out[6] == b"+OK\r\nSubject: one\r\n\r\n.\r\n"


def test_deletions_only_at_quit_and_rset_undoes_them():
    be = backend()
    session = make_session(be)
    out = run(
        session, b"USER alice@example.com", b"PASS pw", b"DELE 1", b"DELE 1", b"RETR 1", b"RSET", b"DELE 3", b"LIST"
    )
    assert out[3].startswith(b"-ERR") and out[4].startswith(b"-ERR")
    assert be.mail[ALICE].keys() == {1, 2, 5}
    assert b"3 " not in out[7]
    run(session, b"QUIT")
    assert be.mail[ALICE].keys() == {1, 2}
    assert session.state is State.UPDATE and be.opened[0].released


def test_a_session_ended_without_quit_deletes_nothing_but_marks_retrieved_seen():
    be = backend()
    session = make_session(be)
    run(session, b"USER alice@example.com", b"PASS pw", b"RETR 1", b"DELE 2")
    asyncio.run(session.end())
    assert be.mail[ALICE].keys() == {1, 2, 5}
    assert be.opened[0].seen_marked == [1]
    assert be.opened[0].released


def test_plaintext_login_refused_without_tls_off_loopback():
    session = make_session(backend(), loopback=False)
    out = run(
        session, b"CAPA", b"USER alice@example.com", b"AUTH PLAIN " + base64.b64encode(b"\0alice@example.com\0pw")
    )
    assert b"USER" not in out[0] and b"SASL" not in out[0] and b"STLS" in out[0]
    assert out[1].startswith(b"-ERR [AUTH]") and out[2].startswith(b"-ERR [AUTH]")
    tls = make_session(backend(), loopback=False, tls=True)
    out = run(tls, b"CAPA", b"USER alice@example.com", b"PASS pw")
    assert b"USER\r\n" in out[0] and b"SASL PLAIN" in out[0] and b"STLS" not in out[0]
    assert out[2].startswith(b"+OK")


def test_auth_plain_with_initial_response_and_with_continuation():
    token = base64.b64encode(b"\0alice@example.com\0pw")
    session = make_session(backend())
    assert run(session, b"AUTH PLAIN " + token)[0].startswith(b"+OK")
    session = make_session(backend())
    out = run(session, b"AUTH PLAIN", token)
    assert out[0] == b"+ \r\n" and out[1].startswith(b"+OK")


def test_auth_cancel_garbage_and_foreign_authzid_fail():
    session = make_session(backend())
    out = run(session, b"AUTH PLAIN", b"*", b"AUTH PLAIN !!!notbase64", b"AUTH CRAM-MD5")
    assert out[1].startswith(b"-ERR") and out[2].startswith(b"-ERR [AUTH]") and out[3].startswith(b"-ERR")
    session = make_session(backend())
    out = run(session, b"AUTH PLAIN " + base64.b64encode(b"bob@example.com\0alice@example.com\0pw"))
    assert out[0].startswith(b"-ERR [AUTH]") and session.state is State.AUTHORIZATION


def test_locked_maildrop_answers_in_use():
    be = backend()
    be.locked.add(ALICE)
    out = run(make_session(be), b"USER alice@example.com", b"PASS pw")
    assert out[1].startswith(b"-ERR [IN-USE]")


def test_wrong_password_fails_and_third_failure_closes():
    session = make_session(backend())

    async def go():
        replies = []
        for _ in range(3):
            await session.handle(b"USER alice@example.com")
            replies.append(await session.handle(b"PASS nope"))
        return replies

    replies = asyncio.run(go())
    assert all(r.data[0].startswith(b"-ERR [AUTH]") for r in replies)
    assert [r.close for r in replies] == [False, False, True]


def test_commands_in_the_wrong_state_are_refused():
    session = make_session(backend())
    out = run(session, b"STAT", b"RETR 1", b"PASS pw", b"NOOP")
    assert all(o.startswith(b"-ERR") for o in out)
    out = run(session, b"USER alice@example.com", b"PASS pw", b"USER alice@example.com", b"STLS", b"RETR 0", b"RETR 4")
    assert all(o.startswith(b"-ERR") for o in out[2:])


def test_message_removed_behind_the_session_is_an_error_not_a_crash():
    be = backend()
    session = make_session(be)
    run(session, b"USER alice@example.com", b"PASS pw")
    del be.mail[ALICE][5]
    assert run(session, b"RETR 3")[0].startswith(b"-ERR")


def test_stls_resets_the_pending_user():
    session = make_session(backend(), loopback=False)
    out = run(session, b"STLS")
    assert out[0].startswith(b"+OK")
    session.tls_started()
    assert run(session, b"PASS pw")[0].startswith(b"-ERR")
    assert run(session, b"STLS")[0].startswith(b"-ERR")
