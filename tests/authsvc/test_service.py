"""The auth service answered in this process over its real Unix socket: logins, failing closed, what it holds."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents import authsvc, config
from agents.authsvc.server import serve_in_thread
from agents.loginguard import LoginUnavailable
from agents.loginguard.db import mail_guard
from mailappliance import hashers
from tests.conftest import PASSWORD
from webadmin.models import Mailbox
from webadmin.webmail import usersettings

ALICE = "alice@example.com"


@pytest.fixture
def socket_path(settings) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="authsvc-") as tmp:
        path = Path(tmp) / "run" / "auth" / "socket"
        settings.MAILAPP_AUTH_SERVICE = True
        settings.MAILAPP_AUTH_SOCKET = path
        settings.MAILAPP_AUTH_CACHE_TTL = 300
        settings.MAILAPP_CONFIG_REFRESH = 0
        authsvc._client = None
        yield path
        if authsvc._client is not None:
            authsvc._client.close()
        authsvc._client = None


@pytest.fixture
def service(transactional_db, example_com, socket_path) -> Iterator[Path]:
    server, thread = serve_in_thread(socket_path, mail_guard())
    yield socket_path
    server.shutdown()
    server.remove()
    thread.join(10)


def test_a_login_through_the_service_is_hashed_once_then_cached(service):
    before = hashers.computed
    info = authsvc.authenticate(ALICE, PASSWORD, "imap")
    assert info is not None and info.address == ALICE and info.can_imap
    assert authsvc.authenticate("Alice@Example.COM", PASSWORD, "pop3") is not None
    after_first = hashers.computed
    for service_name in ("imap", "pop3", "imap"):
        assert authsvc.authenticate(ALICE, PASSWORD, service_name) is not None  # type: ignore[arg-type]
    assert hashers.computed == after_first  # cache hits: no further hash
    assert after_first - before == 1  # one per user, whatever the protocol
    assert authsvc.authenticate(ALICE, PASSWORD + "x", "imap") is None
    assert authsvc.authenticate("nobody@example.com", PASSWORD, "imap") is None


def test_the_socket_is_the_owners_only(service):
    assert stat.S_IMODE(os.stat(service).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(service.parent).st_mode) == 0o700


def test_a_change_holds_at_once_for_the_next_login(service):
    assert authsvc.authenticate(ALICE, PASSWORD, "imap")
    mailbox = Mailbox.objects.get(local_part="alice")
    Mailbox.objects.filter(pk=mailbox.pk).update(can_imap=False)  # no signal, no counter: the row decides
    assert authsvc.authenticate(ALICE, PASSWORD, "imap") is None
    Mailbox.objects.filter(pk=mailbox.pk).update(can_imap=True, active=False)
    assert authsvc.authenticate(ALICE, PASSWORD, "imap") is None
    Mailbox.objects.filter(pk=mailbox.pk).update(active=True)
    assert authsvc.authenticate(ALICE, PASSWORD, "imap")
    usersettings.change_password(mailbox.pk, PASSWORD, "a new and better secret", "a new and better secret")
    assert authsvc.authenticate(ALICE, PASSWORD, "imap") is None
    assert authsvc.authenticate(ALICE, "a new and better secret", "imap")


def test_no_service_is_a_temporary_failure_never_a_login(socket_path, example_com):
    with pytest.raises(LoginUnavailable):
        authsvc.authenticate(ALICE, PASSWORD, "imap")  # no socket at all
    socket_path.parent.mkdir(parents=True)
    socket_path.touch()  # a stale file where the socket was: nobody listens
    with pytest.raises(LoginUnavailable):
        authsvc.authenticate(ALICE, PASSWORD, "imap")


def test_a_restarted_service_is_found_again_on_the_kept_connection(transactional_db, example_com, socket_path):
    server, thread = serve_in_thread(socket_path, mail_guard())
    assert authsvc.authenticate(ALICE, PASSWORD, "imap")
    server.shutdown()
    server.remove()
    thread.join(10)
    with pytest.raises(LoginUnavailable):
        authsvc.authenticate(ALICE, PASSWORD, "imap")
    server, thread = serve_in_thread(socket_path, mail_guard())
    try:
        assert authsvc.authenticate(ALICE, PASSWORD, "imap")
    finally:
        server.shutdown()
        server.remove()
        thread.join(10)


def test_a_deep_home_is_reached_through_proc(transactional_db, example_com, settings):
    with tempfile.TemporaryDirectory(prefix="authsvc-") as tmp:
        path = Path(tmp, *["a-rather-long-directory-name"] * 5, "socket")
        assert len(str(path)) > 108
        settings.MAILAPP_AUTH_SERVICE, settings.MAILAPP_AUTH_SOCKET = True, path
        authsvc._client = None
        server, thread = serve_in_thread(path, mail_guard())
        try:
            assert authsvc.authenticate(ALICE, PASSWORD, "smtp")
        finally:
            server.shutdown()
            server.remove()
            thread.join(10)
            authsvc.client().close()
            authsvc._client = None


def test_the_services_cache_holds_no_password(service):
    secret = "a very recognisable password 12345"
    usersettings.change_password(Mailbox.objects.get(local_part="alice").pk, PASSWORD, secret, secret)
    assert authsvc.authenticate(ALICE, secret, "imap")
    assert authsvc.authenticate(ALICE, secret, "pop3")
    entries = dict(config._verified._entries)  # the server runs in this process: the same cache
    assert len(entries) == 1  # one per user and password, whatever the protocol
    needles = [secret.encode(), secret.encode("utf-16-le"), secret[:12].encode()]
    for key, entry in entries.items():
        assert len(key) == 32  # a keyed BLAKE2b digest of (login, service, password)
        blob = key + repr(entry).encode()
        assert not any(needle in blob for needle in needles)
    assert secret not in repr(vars(config._verified))


def test_concurrent_first_logins_of_one_user_cost_one_hash(service):
    import threading

    from django.contrib.auth.hashers import make_password

    # A real PBKDF2 (a fifth of a second or more): the logins meet while the first one hashes.
    Mailbox.objects.filter(local_part="alice").update(password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
    before = hashers.computed
    results: list[object] = []
    barrier = threading.Barrier(6)

    def login() -> None:
        barrier.wait(10)
        results.append(authsvc.authenticate(ALICE, PASSWORD, "imap"))

    threads = [threading.Thread(target=login) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 6 and all(results)
    assert hashers.computed - before == 1  # the others waited for the first and found it cached
    from agents.authsvc import server

    assert not server._inflight


def test_the_service_asks_the_guard_again_before_a_hash(service):
    from agents import metrics
    from agents.authcache import login_peer

    guard = mail_guard()  # the service's policy: the same settings
    for _ in range(guard.policy.max_failures):  # the address used up its tries meanwhile (another process)
        guard.failed("192.0.2.9", ALICE, "imap")
    metrics.flush()  # the failure counters, while the test database exists
    token = login_peer.set("192.0.2.9")
    try:
        before = hashers.computed
        assert authsvc.authenticate(ALICE, PASSWORD, "imap") is None  # refused before the hash
        assert hashers.computed == before
    finally:
        login_peer.reset(token)
    assert authsvc.authenticate(ALICE, PASSWORD, "imap") is not None  # another address is not refused


def test_a_second_service_does_not_take_the_socket_of_a_running_one(service):
    from agents.authsvc.server import AuthServer

    with pytest.raises(OSError, match="another auth service"):
        AuthServer(service, mail_guard())
    assert authsvc.authenticate(ALICE, PASSWORD, "imap")  # the first one still answers
