"""A silent client is logged out after MAILAPP_IMAP_IDLE_TIMEOUT (here 1 second), also in mid-command."""

import socket

import pytest

from agents.imap.server import Limits
from tests.imap.conftest import _run_server


@pytest.fixture
def impatient_server(imap_store, tls_files):
    yield from _run_server(imap_store, tls_files, limits=Limits(max_literal=1024, max_line=1024, idle_timeout=1))


@pytest.mark.parametrize("partial", [b"", b"a LOGIN {10}\r\n", b"a AUTHENTICATE PLAIN\r\n"])
def test_silent_client_is_dropped(impatient_server, partial):
    # 60 s only bounds the wait on a busy machine: a server that never times out fails here, a slow one does not.
    with socket.create_connection((impatient_server.host, impatient_server.port), timeout=60) as sock:
        f = sock.makefile("rwb")
        f.readline()
        f.write(partial)
        f.flush()
        lines = []
        while line := f.readline():
            lines.append(line)
        assert lines[-1] == b"* BYE Autologout; idle for too long\r\n"
