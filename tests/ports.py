"""Ports for the servers a test starts, chosen so that nothing else is handed them meanwhile.

A test names a port, then a child process (an agent, Dovecot, Pebble) binds it a moment later. A
port from the kernel's ephemeral range (bind to port 0) can be given in that moment to another
xdist worker's pick or to any process's outgoing connection, and the child then fails with
"Address already in use". So ports come from below the ephemeral range (Linux: 32768-60999), each
xdist worker from a slice of its own, each one checked free by binding it. ``wait_port`` then
waits, bounded, until the child listens.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import subprocess
import time

LOW, HIGH = 20_000, 32_000  # below the kernel's ephemeral ports


def _slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1))
    span = (HIGH - LOW) // count
    start = LOW + (index % count) * span
    return range(start, start + span)


_ports = _slice()
_next = itertools.count(random.randrange(len(_ports)))


def free_port() -> int:
    """A TCP port on 127.0.0.1, free a moment ago, that no other worker or outgoing connection is given."""
    for _ in range(len(_ports)):
        port = _ports[next(_next) % len(_ports)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in this worker's slice")


def wait_port(port: int, process: subprocess.Popen | None = None, timeout: float = 60) -> None:
    """Return once 127.0.0.1:``port`` accepts a connection.

    Raises RuntimeError if ``process`` (the server that is to listen there) exits first, or when
    ``timeout`` seconds pass: a server that never comes up fails its caller, never hangs it.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening on port {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listened on port {port} within {timeout:.0f} s") from None
            time.sleep(0.05)
