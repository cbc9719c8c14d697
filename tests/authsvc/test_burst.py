"""A cold burst of first logins queues at the auth service and every one of them succeeds.

Issue 17: right after a start (or a cache flush) many distinct users log in at once, each
paying a real hash behind the service's one hash cap. Every protocol process then opens a
new connection to the service per waiting login, all in the same instant. The service must
take them all (its listen queue held 5 and a full queue refused the client at once with
EAGAIN: ``NO [UNAVAILABLE]`` for a right password); each password is hashed once.
"""

from __future__ import annotations

import imaplib
import poplib
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from agents.authsvc.client import connect_unix
from tests.agentprocs import Agents, AuthService, auth_layout, serving_pid
from webadmin.models import Mailbox

USERS = 40
POP3_USERS = 12  # the rest log in by IMAP, spread by the kernel over the two imapd processes
ITERATIONS = 100_000  # a real PBKDF2, a tenth of Django's: the burst queues about a second of hashing


def address(i: int) -> str:
    return f"burst{i}@example.com"


def secret(i: int) -> str:
    return f"first login {i} of the burst"


@pytest.fixture
def layout(transactional_db, example_com, make_mailbox) -> Iterator[tuple[AuthService, Agents, Agents]]:
    hasher = PBKDF2PasswordHasher()
    for i in range(USERS):
        make_mailbox(address(i), secret(i))
        Mailbox.objects.filter(local_part=f"burst{i}").update(
            password=hasher.encode(secret(i), hasher.salt(), iterations=ITERATIONS))
    with auth_layout() as layout:
        yield layout


def test_a_burst_of_distinct_first_logins_queues_and_all_succeed(layout):
    auth, imap, pop3 = layout
    before = auth.stats()["hashes"]
    answers: dict[int, str] = {}
    served_by: set[int] = set()
    ready = threading.Barrier(USERS, timeout=60)  # every client connected and greeted: then all log in at once

    def imap_client(i: int) -> None:
        client = imaplib.IMAP4(imap.host, imap.port, timeout=60)
        try:
            served_by.add(serving_pid(imap.port, client.sock.getsockname()[1], imap.pids) or 0)
            ready.wait()
            answers[i] = client.login(address(i), secret(i))[0]
        except imaplib.IMAP4.error as exc:
            answers[i] = str(exc)
        finally:
            client.shutdown()

    def pop3_client(i: int) -> None:
        client = poplib.POP3(pop3.host, pop3.port, timeout=60)
        try:
            client.user(address(i))
            ready.wait()
            answers[i] = client.pass_(secret(i)).decode()[:3]
        except poplib.error_proto as exc:
            answers[i] = str(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=pop3_client if i < POP3_USERS else imap_client, args=(i,))
               for i in range(USERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a login never got an answer"
    failed = {i: answer for i, answer in answers.items() if answer not in ("OK", "+OK")}
    assert not failed, f"{len(failed)} of {USERS} first logins failed: {sorted(failed.items())[:5]}"
    assert len(answers) == USERS
    assert served_by == set(imap.pids), "the kernel gave every IMAP connection to one process"
    assert auth.stats()["hashes"] - before == USERS  # each password hashed once, none twice, none skipped


@pytest.fixture
def listener() -> Iterator[tuple[Path, socket.socket, list[socket.socket]]]:
    """A real Unix listener with a queue of one that accepts nobody until the test says so, its queue
    full (a queue of one holds two connections on Linux); every socket is closed afterwards."""
    with tempfile.TemporaryDirectory(prefix="authq-") as tmp:
        path = Path(tmp) / "socket"
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        held: list[socket.socket] = []
        try:
            server.bind(str(path))
            server.listen(1)
            for _ in range(8):
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                held.append(probe)
                probe.setblocking(False)
                try:
                    probe.connect(str(path))
                except BlockingIOError:
                    break
            else:
                raise AssertionError("the listen queue never filled")
            yield path, server, held
        finally:
            for each in held:
                each.close()
            server.close()


def test_a_full_queue_makes_the_client_wait_for_a_place_not_fail(listener):
    path, server, held = listener
    catch_up = threading.Timer(0.3, lambda: held.append(server.accept()[0]))  # the service catches up
    catch_up.start()
    sock = connect_unix(path, 30)
    held.append(sock)
    catch_up.join(10)
    assert sock.gettimeout() == 30  # sends and answers stay bounded


def test_a_full_queue_that_never_moves_fails_after_the_timeout(listener):
    path, _server, held = listener
    started = time.monotonic()
    with pytest.raises(OSError):
        held.append(connect_unix(path, 0.5))
    assert time.monotonic() - started >= 0.4


def test_a_service_gone_while_the_client_waits_in_its_queue_fails_at_once(listener):
    path, server, held = listener
    killed = threading.Timer(0.3, server.close)  # kill -9 of the service closes its listener
    killed.start()
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        held.append(connect_unix(path, 30))
    killed.join(10)
    assert time.monotonic() - started < 10  # woken by the close, not by the 30 s timeout
