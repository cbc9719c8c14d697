"""One auth service for two imap processes and a pop3 process, each a real ``manage.py`` child.

As the large profile's supervisor lays it out (``MAILAPP_AUTH_SERVICE``): a user's password is
hashed once, whichever process serves the login; a change holds at once in every process; the
service killed by ``kill -9`` turns logins into temporary failures, never into logins, until it
is back; and guessers queued behind the one hash cap do not hold up a right password.
"""

from __future__ import annotations

import imaplib
import poplib
import threading
import time
from collections.abc import Iterator

import pytest
from django.contrib.auth.hashers import make_password

from tests.agentprocs import Agents, AuthService, auth_layout
from tests.conftest import PASSWORD
from webadmin.models import Mailbox

ALICE = "alice@example.com"


@pytest.fixture
def layout(transactional_db, example_com) -> Iterator[tuple[AuthService, Agents, Agents]]:
    with auth_layout() as layout:
        yield layout


def imap_login(imap: Agents, pid: int, password: str) -> str:
    """``OK``, or the server's NO text, for a LOGIN on a connection that process ``pid`` serves."""
    client = imap.connect_to(pid, lambda: imaplib.IMAP4(imap.host, imap.port, timeout=60),
                             lambda c: c.sock.getsockname()[1], lambda c: c.shutdown())
    try:
        client.login(ALICE, password)
    except imaplib.IMAP4.error as exc:
        return str(exc)
    finally:
        client.shutdown()
    return "OK"


def pop3_login(pop3: Agents, password: str) -> str:
    client = poplib.POP3(pop3.host, pop3.port, timeout=60)
    try:
        client.user(ALICE)
        return client.pass_(password).decode()[:3]
    except poplib.error_proto as exc:
        return str(exc)
    finally:
        client.close()


def everywhere(layout: tuple[AuthService, Agents, Agents], password: str) -> list[str]:
    _, imap, pop3 = layout
    return [imap_login(imap, pid, password) for pid in imap.pids] + [pop3_login(pop3, password)]


def test_a_password_is_hashed_once_across_processes(layout):
    auth = layout[0]
    before = auth.stats()["hashes"]
    assert everywhere(layout, PASSWORD) == ["OK", "OK", "+OK"]
    assert everywhere(layout, PASSWORD) == ["OK", "OK", "+OK"]
    assert auth.stats()["hashes"] - before == 1


def test_a_change_or_a_disabled_mailbox_holds_at_once_in_every_process(layout):
    assert everywhere(layout, PASSWORD) == ["OK", "OK", "+OK"]  # cached in the service now
    mailbox = Mailbox.objects.get(local_part="alice")
    mailbox.set_password("a brand new secret 42")
    mailbox.save()
    refused = everywhere(layout, PASSWORD)  # at once: no wait for any counter
    assert "AUTHENTICATIONFAILED" in refused[0] and "AUTHENTICATIONFAILED" in refused[1], refused
    assert "[AUTH]" in refused[2], refused
    assert everywhere(layout, "a brand new secret 42") == ["OK", "OK", "+OK"]
    mailbox.active = False
    mailbox.save()
    refused = everywhere(layout, "a brand new secret 42")
    assert "OK" not in refused and "+OK" not in refused, refused
    mailbox.active = True
    mailbox.can_pop3 = False
    mailbox.save()
    assert everywhere(layout, "a brand new secret 42")[2] != "+OK"  # the right withdrawn: POP3 only


def test_the_service_killed_means_temporary_failures_then_logins_again(layout):
    auth, imap, pop3 = layout
    assert everywhere(layout, PASSWORD) == ["OK", "OK", "+OK"]
    auth.kill()  # kill -9: its socket file stays behind, nobody answers on it
    down = everywhere(layout, PASSWORD)
    assert all("UNAVAILABLE" in answer for answer in down[:2]), down
    assert "[SYS/TEMP]" in down[2], down
    assert everywhere(layout, "wrong password") != ["OK", "OK", "+OK"]
    auth.start()  # what the supervisor does after its backoff
    assert everywhere(layout, PASSWORD) == ["OK", "OK", "+OK"]


def test_guessers_queued_behind_the_hash_cap_do_not_hold_up_a_right_password(layout):
    # A real PBKDF2 (Django's million rounds) for alice: each wrong guess costs a fifth of a second or more
    # of CPU, and the service lets one run at a time (MAILAPP_AUTH_HASH_CONCURRENCY=1).
    auth, imap, pop3 = layout
    Mailbox.objects.filter(local_part="alice").update(password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
    assert everywhere(layout, PASSWORD) == ["OK", "OK", "+OK"]  # the one hash; cached from now on
    guesses, answered = 6, []
    start_hashes = auth.stats()["hashes"]

    def guess(n: int) -> None:
        answered.append(imap_login(imap, imap.pids[n % 2], f"guess {n}"))

    guessers = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
    for thread in guessers:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while auth.stats()["hashes"] == start_hashes:  # the first guess holds the hash slot, the rest queue
            assert time.monotonic() < deadline, "no guess reached the hash"
            time.sleep(0.02)
        started = time.monotonic()
        right = everywhere(layout, PASSWORD)
        took = time.monotonic() - started
        still_waiting = guesses - len(answered)
    finally:
        for thread in guessers:
            thread.join(120)
    assert right == ["OK", "OK", "+OK"]
    # The proof is the order: the right logins were answered while guesses still queued for the hash.
    # Their time is printed, not bounded: on a loaded 2-core machine a 5 s bound measures the load, not the order.
    assert still_waiting > 0, f"the right logins ({took:.2f} s) waited for every guess"
    print(f"three right logins took {took:.2f} s with {still_waiting} of {guesses} guesses still queued")
    assert all("AUTHENTICATIONFAILED" in answer for answer in answered), answered
