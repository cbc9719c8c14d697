"""Two sessions of one mailbox in two imap processes see each other as if they shared one process.

The real agent runs as two processes on one port (``MAILAPP_IMAP_PROCESSES=2``), session A in
the first and B in the second, both on INBOX; nothing reaches B from A but the store's index
and files. Each step checks what a client would notice: ``\\Recent`` claimed by exactly one
session (RFC 3501 §2.3.2), a new keyword announced in FLAGS before a FETCH shows it, EXPUNGE
and EXISTS agreeing, IDLE woken by the other process's APPEND, STORE and EXPUNGE and by
delivery, and MODSEQ/QRESYNC.
"""

from __future__ import annotations

import re
import time

import pytest

from agents.store import default_store
from tests.agentprocs import Agents
from tests.conftest import PASSWORD

from .conftest import ALICE, message
from .conversation import Client

IDLE_NEWS_SECONDS = 2.0  # the store's promise: IDLE reports a change within 2 seconds


@pytest.fixture
def two_processes(transactional_db, example_com):
    agents = Agents("imapd", 2)
    try:
        yield agents
    finally:
        agents.stop()


def session_in(agents: Agents, pid: int) -> Client:
    def connect() -> Client:
        return Client(agents.host, agents.port, ALICE, PASSWORD, timeout=30)

    return agents.connect_to(pid, connect, lambda c: c.sock.getsockname()[1], lambda c: c.close())


def idle_until(client: Client, wanted: re.Pattern[bytes], act) -> tuple[bytes, float]:  # type: ignore[no-untyped-def]
    """IDLE, do ``act()`` (in the other process), read until ``wanted`` shows; what came and how long it
    took from the change being made (``act()`` returned): the promise counts from the change, and the
    act's own time (an APPEND through a loaded process) is not IDLE's to answer for."""
    tag = client.send("IDLE")
    assert client._line().startswith(b"+")
    act()
    began = time.monotonic()
    got = b""
    client.sock.settimeout(IDLE_NEWS_SECONDS + 8)  # generous on a busy machine; the figure is checked below
    try:
        while not wanted.search(got):
            got += client._line()
    except TimeoutError:
        raise AssertionError(f"IDLE never told {wanted.pattern!r}; got {got!r}") from None
    finally:
        client.sock.settimeout(30)
    took = time.monotonic() - began
    client.sock.sendall(b"DONE\r\n")
    got += client.read(tag)
    return got, took


_FETCHED = re.compile(rb"\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\)\)")


def listing(client: Client) -> list[tuple[int, int, frozenset[bytes]]]:
    """(number, UID, flags but \\Recent) of every message, as the session sees them."""
    found = _FETCHED.findall(client.command("FETCH 1:* (UID FLAGS)"))
    return sorted((int(n), int(uid), frozenset(flags.split()) - {b"\\Recent"}) for n, uid, flags in found)


def recent(client: Client) -> set[int]:
    """The UIDs this session shows as \\Recent."""
    return {int(uid) for _, uid, flags in _FETCHED.findall(client.command("FETCH 1:* (UID FLAGS)"))
            if b"\\Recent" in flags.split()}


def test_two_sessions_in_two_processes_see_each_other(two_processes):
    agents = two_processes
    first, second = agents.pids
    mailbox = default_store().mailbox(ALICE)
    for i in range(3):
        mailbox.deliver(message(f"seed {i}"), "INBOX")
    a, b = session_in(agents, first), session_in(agents, second)
    try:
        # \Recent: the three seeds are claimed by the first SELECT only.
        selected_a = a.command("SELECT INBOX")
        selected_b = b.command("SELECT INBOX")
        assert b"* 3 EXISTS" in selected_a and b"* 3 RECENT" in selected_a
        assert b"* 3 EXISTS" in selected_b and b"* 0 RECENT" in selected_b

        # A delivery is recent in exactly one of the two sessions, whichever looks first.
        mailbox.deliver(message("new one"), "INBOX")
        news_b, news_a = b.command("NOOP"), a.command("NOOP")
        assert b"* 4 EXISTS" in news_a and b"* 4 EXISTS" in news_b
        flags_a, flags_b = a.command("FETCH 4 FLAGS"), b.command("FETCH 4 FLAGS")
        assert (b"\\Recent" in flags_a) != (b"\\Recent" in flags_b), (flags_a, flags_b)
        assert b"\\Recent" in flags_b  # B looked first

        # A keyword new to the folder, set in A's process, is announced to B before B sees it on a message.
        assert b" OK " in a.command("STORE 1 +FLAGS (project-x)")
        told = b.command("NOOP")
        announced, shown = told.find(b"* FLAGS ("), told.find(b"FETCH (")
        assert announced >= 0 and b"project-x" in told[announced:told.index(b"\r\n", announced)], told
        assert shown > announced and b"project-x" in told[shown:], told

        # IDLE in B is woken by A's APPEND, STORE and EXPUNGE, and by delivery, each within 2 s.
        got, took = idle_until(b, re.compile(rb"\* 5 EXISTS"),
                               lambda: a.command("APPEND INBOX (\\Seen)", message("appended by A")))
        assert took < IDLE_NEWS_SECONDS + 1, f"IDLE told of A's APPEND after {took:.1f} s"
        got, took = idle_until(b, re.compile(rb"\* 2 FETCH \([^)]*\\Flagged"),
                               lambda: a.command("STORE 2 +FLAGS (\\Flagged)"))
        assert took < IDLE_NEWS_SECONDS + 1, f"IDLE told of A's STORE after {took:.1f} s"

        def expunge_third() -> None:
            a.command("STORE 3 +FLAGS.SILENT (\\Deleted)")
            assert b"* 3 EXPUNGE" in a.command("EXPUNGE")

        got, took = idle_until(b, re.compile(rb"\* 3 EXPUNGE"), expunge_third)
        assert took < IDLE_NEWS_SECONDS + 1, f"IDLE told of A's EXPUNGE after {took:.1f} s"
        got, took = idle_until(b, re.compile(rb"\* 5 EXISTS"), lambda: mailbox.deliver(message("late"), "INBOX"))
        assert took < IDLE_NEWS_SECONDS + 1, f"IDLE told of a delivery after {took:.1f} s"
        assert b"* 5 EXISTS" in a.command("NOOP")

        # Both sessions agree on every number, UID and flag.
        listing_a, listing_b = listing(a), listing(b)
        assert len(listing_a) == 5 and listing_a == listing_b
        recent_a, recent_b = recent(a), recent(b)
        assert not recent_a & recent_b, "a message recent in two sessions"
        assert recent_a | recent_b == {uid for _, uid, _ in listing_a}, "a message recent in neither session"
    finally:
        a.close()
        b.close()


def test_modseq_and_qresync_across_processes(two_processes):
    agents = two_processes
    first, second = agents.pids
    mailbox = default_store().mailbox(ALICE)
    uids = [mailbox.deliver(message(f"m {i}"), "INBOX")[1] for i in range(4)]
    a, b = session_in(agents, first), session_in(agents, second)
    try:
        assert b" OK " in a.command("ENABLE QRESYNC")
        selected = a.command("SELECT INBOX")
        validity = int(re.search(rb"UIDVALIDITY (\d+)", selected).group(1))
        before = int(re.search(rb"HIGHESTMODSEQ (\d+)", selected).group(1))
        b.command("ENABLE CONDSTORE")
        b.command("SELECT INBOX")
        stored = b.command(f"UID STORE {uids[0]} +FLAGS (\\Answered)")
        modseq = int(re.search(rb"MODSEQ \((\d+)\)", stored).group(1))
        assert modseq > before
        news = a.command("NOOP")  # A (QRESYNC) is told the change with its MODSEQ
        assert re.search(rb"\* 1 FETCH \(.*UID %d.*MODSEQ \(%d\)" % (uids[0], modseq), news) or \
            re.search(rb"\* 1 FETCH \(.*MODSEQ \(%d\).*UID %d" % (modseq, uids[0]), news), news
        b.command(f"UID STORE {uids[1]} +FLAGS.SILENT (\\Deleted)")
        b.command("EXPUNGE")
        assert b"* VANISHED %d" % uids[1] in a.command("NOOP")  # never a plain EXPUNGE under QRESYNC
        a.command("UNSELECT")

        # B changes more while A has nothing selected; A's QRESYNC SELECT from the older MODSEQ gets it all.
        b.command(f"UID STORE {uids[2]} +FLAGS.SILENT (\\Deleted)")
        b.command("EXPUNGE")
        b.command(f"UID STORE {uids[3]} +FLAGS (\\Flagged)")
        resync = a.command(f"SELECT INBOX (QRESYNC ({validity} {before}))")
        vanished = re.search(rb"\* VANISHED \(EARLIER\) (\S+)", resync)
        assert vanished is not None, resync
        gone = set()
        for part in vanished.group(1).split(b","):
            low, _, high = part.partition(b":")
            gone.update(range(int(low), int(high or low) + 1))
        assert {uids[1], uids[2]} <= gone and not {uids[0], uids[3]} & gone
        assert re.search(rb"UID %d\b.*\\Flagged|\\Flagged.*UID %d\b" % (uids[3], uids[3]), resync), resync
        assert re.search(rb"UID %d\b.*\\Answered|\\Answered.*UID %d\b" % (uids[0], uids[0]), resync), resync
        highest = int(re.search(rb"HIGHESTMODSEQ (\d+)", resync).group(1))
        assert highest == int(re.search(rb"HIGHESTMODSEQ (\d+)", b.command("STATUS INBOX (HIGHESTMODSEQ)")).group(1))
    finally:
        a.close()
        b.close()
