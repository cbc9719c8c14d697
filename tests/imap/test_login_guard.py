"""Failed IMAP logins: a growing delay that holds only that session, and a hang-up after 3 tries."""

from __future__ import annotations

import imaplib
import threading
import time

import pytest

from agents.loginguard import GuardPolicy
from tests.conftest import PASSWORD

from .conftest import ALICE


def test_three_failed_logins_on_one_connection_end_it(imap_server):
    imap = imap_server.client()
    for _ in range(2):
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            imap.login(ALICE, "wrong")
    with pytest.raises((imaplib.IMAP4.error, imaplib.IMAP4.abort)):
        imap.login(ALICE, "wrong")
    with pytest.raises((imaplib.IMAP4.abort, OSError, EOFError)):
        imap.noop()  # the server said BYE and hung up


def test_authenticate_failures_count_toward_the_same_limit(imap_server):
    imap = imap_server.client()
    for _ in range(3):
        with pytest.raises((imaplib.IMAP4.error, imaplib.IMAP4.abort)):
            imap.authenticate("PLAIN", lambda _: f"\0{ALICE}\0wrong".encode())
    with pytest.raises((imaplib.IMAP4.abort, OSError, EOFError)):
        imap.noop()


def test_each_failure_waits_longer(imap_server):
    imap_server.server.throttle.policy = GuardPolicy(delay=0.1, max_delay=0.4, max_failures=0)
    imap = imap_server.client()
    waited = []
    for _ in range(2):
        started = time.monotonic()
        with pytest.raises(imaplib.IMAP4.error):
            imap.login(ALICE, "wrong")
        waited.append(time.monotonic() - started)
    assert waited[0] >= 0.1 and waited[1] >= 0.2


def test_a_delayed_failure_holds_no_other_session(imap_server):
    # The guess waits 5 s: the right login below must be served within it, and 1 s was a wall-clock race on a
    # loaded machine (a connection, LOGIN and NOOP while the server's threads compete for two cores).
    imap_server.server.throttle.policy = GuardPolicy(delay=5.0, max_delay=5.0, max_failures=0)
    failed = threading.Event()

    def guess() -> None:
        with pytest.raises(imaplib.IMAP4.error):
            imap_server.client().login(ALICE, "wrong")
        failed.set()

    guesser = threading.Thread(target=guess)
    guesser.start()
    try:
        store = imap_server.server.throttle.store
        for _ in range(500):  # until the guess was counted: it is waiting out its delay now
            if store.failures("127.0.0.1", ALICE, 0)[0]:
                break
            time.sleep(0.01)
        imap = imap_server.client()
        imap.login(ALICE, PASSWORD)
        imap.noop()
        assert not failed.is_set()  # the other session was served while the guesser still waited
    finally:
        guesser.join(30)
    assert failed.is_set()
