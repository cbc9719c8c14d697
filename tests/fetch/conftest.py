"""Fetch test fixtures: a loopback Dovecot holding a remote account, a mailbox with sources, the local store."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agents.store import Store
from tests.fakes import dovecot
from tests.imap.conftest import imap_server, imap_store, tls_files  # noqa: F401  (this appliance's servers)
from tests.pop3.conftest import pop3  # noqa: F401
from webadmin.models import ExternalSource

REMOTE_USER, REMOTE_PASSWORD = "remote", "s3cret-remote"
_names = itertools.count(1)  # Dovecot remembers a file name's UID: never reuse one within a run


def message(n: int, subject: str = "Remote") -> bytes:
    return (f"From: Dora <dora@elsewhere.example>\r\nTo: remote@elsewhere.example\r\nSubject: {subject} {n}\r\n"
            f"Message-ID: <remote-{n}@elsewhere.example>\r\n\r\nBody of message {n}.\r\n").encode()


@pytest.fixture(autouse=True)
def _mail_root(settings, tmp_path) -> None:
    settings.MAILAPP_MAIL_ROOT = tmp_path / "mail"


@pytest.fixture
def store(settings) -> Store:
    return Store(Path(settings.MAILAPP_MAIL_ROOT))


@pytest.fixture(scope="session")
def _dovecot() -> Iterator[dovecot.Dovecot]:
    server = dovecot.start({REMOTE_USER: REMOTE_PASSWORD})
    yield server
    server.stop()


@pytest.fixture
def remote(_dovecot) -> dovecot.Dovecot:
    """The loopback Dovecot (one per run; stopping it costs a second), its account emptied."""
    for path in _dovecot.messages(REMOTE_USER):
        path.unlink()
    return _dovecot


@pytest.fixture
def fill(remote) -> Callable[[int], list[bytes]]:
    """Put ``count`` messages into the remote account; returns them."""

    def put(count: int, start: int = 1) -> list[bytes]:
        raws = [message(n) for n in range(start, start + count)]
        for n, raw in enumerate(raws, start=start):
            remote.add_message(REMOTE_USER, raw, f"{1700000000 + n}.M{next(_names)}P1.test")
        return raws

    return put


@pytest.fixture
def make_source(example_com, remote) -> Callable[..., ExternalSource]:
    def make(protocol: str = "imap", keep: bool = True, password: str = REMOTE_PASSWORD, **fields: object):
        fields.setdefault("port", remote.imap_port if protocol == "imap" else remote.pop3_port)
        fields.setdefault("tls", "none")
        source = ExternalSource(mailbox=example_com.mailboxes.get(local_part="alice"), protocol=protocol,
                                host="127.0.0.1", login=REMOTE_USER, keep=keep, **fields)
        source.set_password(password)
        source.full_clean()
        source.save()
        return source

    return make


def inbox_subjects(store: Store, address: str = "alice@example.com", folder: str = "INBOX") -> list[str]:
    box = store.mailbox(address).folder(folder)
    box.refresh()
    return sorted(s.subject for s in box.summaries([m.uid for m in box.messages()]))
