"""The auth service: one process answers every protocol process's logins (Dovecot's auth process).

It holds what must be one per appliance for logins to cost one hash per user, however
many imap, pop3, smtp and managesieve processes there are:

- the one verified-credential cache (``agents.config``'s, keyed hash, never the password),
  checked against the mailbox row at every hit, dropped with the configuration counter;
- the one cap on concurrent password hashes (``MAILAPP_AUTH_HASH_CONCURRENCY``,
  ``mailappliance.hashers``);
- the login guard's check (per client address, per account) once more just before any
  hash, after the wait for a hash slot (the protocol session asked it before sending).

A thread per client connection: each request is a blocking database read and maybe a
hash, and a protocol process keeps a handful of connections open (``agents.authsvc.client``),
so a thread each costs less than two hand-offs per login between an event loop and a pool.
The socket lives in a directory of mode 0700 and is itself 0600: only the appliance's
user reaches it.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import socketserver
import threading
from pathlib import Path
from typing import Any

from django.db import connections

from agents import config
from agents.authcache import login_peer
from agents.loginguard import LoginGuard
from mailappliance import hashers

from . import wire
from .client import connect_unix, unix_address

log = logging.getLogger("agents.authsvc")

SERVICES = ("smtp", "imap", "pop3", "managesieve")  # webmail checks in the web process, uncached, on purpose


def answer(request: dict[str, Any], guard: LoginGuard) -> dict[str, Any]:
    """The answer to one request (blocking: database reads, maybe a hash)."""
    op = request.get("op")
    if op == "stats":
        return {"hashes": hashers.computed, "cached": len(config.credential_cache()), "pid": os.getpid()}
    if op != "auth":
        return {"error": f"unknown op {op!r}"}
    login, password = request.get("login"), request.get("password")
    service, peer = request.get("service"), str(request.get("peer") or "")[:64]
    if not isinstance(login, str) or not isinstance(password, str) or service not in SERVICES:
        return {"error": "malformed auth request"}
    if not login or not password or len(login) >= 320 or len(password) >= 1024:
        return {"mailbox": None}
    login_peer.set(peer)  # an app password's last use records the client's address
    key = config.credential_cache().digest(login.strip().lower(), "in-flight", password)
    turn = _take_turn(key)
    try:
        info = config.authenticate(login, password, service,  # type: ignore[arg-type]
                                   before_hash=lambda: guard.check(peer, login).allowed)
    finally:
        _leave(key, turn)
    return {"mailbox": list(vars(info).values()) if info is not None else None}  # a dataclass's fields, in order


_inflight: dict[bytes, tuple[threading.Lock, list[int]]] = {}  # digest -> (its turn, [checks holding or waiting])
_inflight_lock = threading.Lock()


def _take_turn(key: bytes) -> tuple[threading.Lock, list[int]]:
    """Wait for the checks of the same credentials before this one: their success fills the cache for it.

    A mail client opens several connections at once, each perhaps served by another process; without
    this each of them would pay the same first hash side by side. ``key`` is a keyed digest, like the
    cache's (never the password); a wrong password is not cached, so its turns each check anew.
    """
    with _inflight_lock:
        turn = _inflight.setdefault(key, (threading.Lock(), [0]))
        turn[1][0] += 1
    turn[0].acquire()
    return turn


def _leave(key: bytes, turn: tuple[threading.Lock, list[int]]) -> None:
    turn[0].release()
    with _inflight_lock:
        turn[1][0] -= 1
        if not turn[1][0]:
            del _inflight[key]


class _Handler(socketserver.BaseRequestHandler):
    server: AuthServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        with self.server.lock:
            self.server.clients.add(sock)
        try:
            while True:
                try:
                    request = wire.read(sock)
                except wire.FrameError as exc:
                    log.warning("auth service: dropping a client connection: %s", exc)
                    return
                if request is None:
                    return
                try:
                    reply = answer(request, self.server.guard)
                except Exception:
                    log.exception("auth service: a request failed")
                    reply = {"error": "internal error"}  # the client answers a temporary failure
                sock.sendall(wire.encode(reply))
        except OSError:
            return  # the client went away mid-answer
        finally:
            with self.server.lock:
                self.server.clients.discard(sock)
            connections.close_all()  # this thread's own connections: it ends with the client's


class AuthServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False
    # socketserver's default listen queue is 5. A cold burst of first logins has every protocol process
    # open up to MAILAPP_AUTH_CONNECTIONS connections in the same instant while this one thread accepts,
    # so the queue must hold them all (the kernel caps it at net.core.somaxconn); clients that still find
    # it full wait in connect (``connect_unix``) instead of failing.
    request_queue_size = socket.SOMAXCONN

    def __init__(self, path: Path, guard: LoginGuard) -> None:
        self.path = path
        self.guard = guard
        self.clients: set[socket.socket] = set()
        self.lock = threading.Lock()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)  # made earlier by someone else: still only ours
        try:
            connect_unix(path, 2.0).close()
        except (FileNotFoundError, ConnectionRefusedError):
            pass  # nobody listens there: a socket left by a killed predecessor, or none
        except OSError as exc:  # a full queue (EAGAIN after the wait) is a live service too: never take its socket
            raise OSError(errno.EADDRINUSE, f"another auth service may answer on {path}: {exc}") from None
        else:
            raise OSError(errno.EADDRINUSE, f"another auth service answers on {path}")
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        super().__init__(str(path), _Handler, bind_and_activate=False)

    def server_bind(self) -> None:
        with unix_address(self.path) as address:
            self.socket.bind(address)
        os.chmod(self.path, 0o600)

    def start(self) -> None:
        self.server_bind()
        self.server_activate()

    def remove(self) -> None:
        """Stop listening, end every client's connection, remove the socket (after ``shutdown``)."""
        self.server_close()
        with self.lock:
            clients = list(self.clients)
        for sock in clients:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def serve_in_thread(path: Path, guard: LoginGuard) -> tuple[AuthServer, threading.Thread]:
    """A started server answering on a thread (tests, and whoever embeds it)."""
    server = AuthServer(path, guard)
    server.start()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="authsvc", daemon=True)
    thread.start()
    return server, thread
