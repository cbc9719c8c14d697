"""Several processes serving the same listening ports (``SO_REUSEPORT``).

One Python process tops out at one core. A protocol agent may run as N processes, each
binding the same ports with ``SO_REUSEPORT`` (Linux ≥ 3.9): the kernel spreads new
connections over the processes that listen, and a process that dies takes only its own
sessions with it while the others keep accepting. The supervisor starts and restarts each
process as its own child (:func:`agents.supervisor.replicas`); nothing is shared between
them but the database, the spool and the store, which every guarantee already rests on.

The option is set only when more than one process is asked for, so that a single agent
still fails loudly ("address in use") when another program holds its port. The kernel
lets only processes of the same user share a port.
"""

from __future__ import annotations

import socket


def server_options(processes: int) -> dict[str, bool]:
    """Keyword arguments for ``loop.create_server`` in an agent that runs as ``processes`` processes."""
    return {"reuse_port": True} if processes > 1 else {}


def bind(host: str, port: int, *, reuse_port: bool = False, backlog: int = 1024) -> socket.socket:
    """A listening, non-blocking TCP socket (IPv6 if ``host`` is an IPv6 address; ``::`` takes IPv4 too)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6 and host in ("::", ""):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
