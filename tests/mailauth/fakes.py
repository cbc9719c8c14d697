"""Tiny stand-ins for rspamd (its HTTP /checkv2) and clamd (INSTREAM on a unix socket), on loopback."""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import struct
import threading
from typing import Any


class FakeRspamd:
    """Answers ``POST /checkv2`` with ``answer`` (JSON) and records what it was sent."""

    def __init__(self, answer: dict[str, Any] | bytes) -> None:
        self.answer = answer
        self.requests: list[tuple[dict[str, str], bytes]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = min(int(self.headers.get("Content-Length", "0")), 10_000_000)
                fake.requests.append(({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)))
                body = fake.answer if isinstance(fake.answer, bytes) else json.dumps(fake.answer).encode()
                self.send_response(200 if self.path == "/checkv2" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeRspamd:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeClamd:
    """Speaks INSTREAM: "stream: Eicar-Test-Signature FOUND" when the stream holds ``signature``."""

    def __init__(self, path: str, signature: bytes = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE") -> None:
        self.path = path
        fake_signature = signature

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(5)
                command = b""
                while not command.endswith(b"\0") and len(command) < 64:
                    command += sock.recv(1)
                if command != b"zINSTREAM\0":
                    sock.sendall(b"UNKNOWN COMMAND\0")
                    return
                data = b""
                while True:
                    size = struct.unpack("!I", _exactly(sock, 4))[0]
                    if size == 0:
                        break
                    data += _exactly(sock, size)
                verdict = b"stream: Eicar-Test-Signature FOUND" if fake_signature in data else b"stream: OK"
                sock.sendall(verdict + b"\0")

        self.server = socketserver.ThreadingUnixStreamServer(path, Handler)

    def __enter__(self) -> FakeClamd:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("short read")
        data += chunk
    return data
