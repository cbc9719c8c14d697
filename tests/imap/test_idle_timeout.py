"""A silent client is logged out after MAILAPP_IMAP_IDLE_TIMEOUT (here 1 second), also in mid-command."""

import socket
import time

import pytest

from agents.imap.server import Limits
from tests.imap.conftest import _run_server


@pytest.fixture
def impatient_server(imap_store, tls_files):
    yield from _run_server(imap_store, tls_files, limits=Limits(max_literal=1024, max_line=1024, idle_timeout=1))


@pytest.mark.parametrize("partial", [b"", b"a LOGIN {10}\r\n"])
def test_silent_client_is_dropped(impatient_server, partial):
    with socket.create_connection((impatient_server.host, impatient_server.port), timeout=5) as sock:
        f = sock.makefile("rwb")
        f.readline()
        f.write(partial)
        f.flush()
        started = time.monotonic()
        lines = []
        while line := f.readline():
            lines.append(line)
        assert lines[-1].startswith(b"* BYE") and time.monotonic() - started < 4
