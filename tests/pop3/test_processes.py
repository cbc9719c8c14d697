"""POP3 as two processes sharing the port (``MAILAPP_POP3_PROCESSES=2``), beside IMAP in another.

The maildrop lock is an ``flock`` on a file in the mailbox, so it holds across processes:
a session of alice in one pop3 process keeps a second one, served by the other process, out
with ``[IN-USE]`` until it quits, and bob is not affected. What POP3 deletes at QUIT and
marks ``\\Seen`` reaches an IMAP session in a third process as EXPUNGE and FLAGS; what IMAP
expunges during a POP3 session is ``[SYS/PERM]`` to RETR there.
"""

from __future__ import annotations

import poplib
import re

import pytest

from agents.store import default_store
from tests.agentprocs import Agents
from tests.conftest import PASSWORD
from tests.imap.conftest import ALICE, BOB, message
from tests.imap.conversation import Client


@pytest.fixture
def agents(transactional_db, example_com):
    started: list[Agents] = []
    try:
        started.append(Agents("pop3d", 2))
        started.append(Agents("imapd", 1))
        yield started
    finally:
        for running in started:
            running.stop()


def pop3_in(agents: Agents, pid: int) -> poplib.POP3:
    def connect() -> poplib.POP3:
        return poplib.POP3(agents.host, agents.port, timeout=30)

    def close(client: poplib.POP3) -> None:
        client.file.close()
        client.sock.close()

    return agents.connect_to(pid, connect, lambda c: c.sock.getsockname()[1], close)


def test_one_pop3_session_per_mailbox_across_processes(agents):
    pop3, _ = agents
    first, second = pop3.pids
    holder = pop3_in(pop3, first)
    holder.user(ALICE)
    assert holder.pass_(PASSWORD).startswith(b"+OK")
    other = pop3_in(pop3, second)
    other.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        other.pass_(PASSWORD)
    other.quit()
    bob = pop3_in(pop3, second)
    bob.user(BOB)
    assert bob.pass_(PASSWORD).startswith(b"+OK")  # another maildrop is not affected
    bob.quit()
    holder.quit()
    again = pop3_in(pop3, second)
    again.user(ALICE)
    assert again.pass_(PASSWORD).startswith(b"+OK")  # the lock went with the first session
    again.quit()


def test_pop3_and_imap_in_different_processes_see_each_other(agents):
    pop3, imapd = agents
    first, second = pop3.pids
    mailbox = default_store().mailbox(ALICE)
    uids = [mailbox.deliver(message(f"m {i}"), "INBOX")[1] for i in range(3)]
    imap = Client(imapd.host, imapd.port, ALICE, PASSWORD, timeout=30)
    try:
        assert b"* 3 EXISTS" in imap.command("SELECT INBOX")

        # POP3 in one process: RETR 2 (\Seen), DELE 1, QUIT; IMAP is told the EXPUNGE and the flag.
        session = pop3_in(pop3, first)
        session.user(ALICE)
        session.pass_(PASSWORD)
        assert session.stat()[0] == 3
        session.retr(2)
        session.dele(1)
        session.quit()
        news = imap.command("NOOP")
        assert b"* 1 EXPUNGE" in news, news
        fetched = imap.command("FETCH 1:* (UID FLAGS)")
        assert re.search(rb"\* 1 FETCH \(UID %d FLAGS \(\\Recent \\Seen\)\)" % uids[1], fetched), fetched
        assert re.search(rb"\* 2 FETCH \(UID %d FLAGS \(\\Recent\)\)" % uids[2], fetched), fetched

        # POP3 in the other process logs in; IMAP expunges a message of its snapshot meanwhile.
        session = pop3_in(pop3, second)
        session.user(ALICE)
        session.pass_(PASSWORD)
        assert [line.split()[1] for line in session.uidl()[1]] == [f"{mailbox.folder('INBOX').uidvalidity}.{u}".encode()
                                                                   for u in uids[1:]]
        imap.command(f"UID STORE {uids[2]} +FLAGS.SILENT (\\Deleted)")
        assert b"* 2 EXPUNGE" in imap.command("EXPUNGE")
        with pytest.raises(poplib.error_proto, match=r"\[SYS/PERM\]"):
            session.retr(2)
        assert session.retr(1)[0].startswith(b"+OK")
        session.quit()
        assert [m.uid for m in mailbox.folder("INBOX").messages()] == [uids[1]]
    finally:
        imap.close()
