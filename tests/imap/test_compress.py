"""COMPRESS=DEFLATE (RFC 4978): the connection deflated both ways after the tagged OK, over plain TCP and
after STARTTLS; a second COMPRESS is refused; a zip bomb meets the same line and literal limits as
plain input, measured after inflation."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import zlib
from typing import Any

import pytest

from agents.imap.deflate import CHUNK, DeflateReader
from tests.conftest import PASSWORD

from .conftest import ALICE, message


class DeflateClient:
    """A minimal IMAP client that can switch to raw deflate (no library client here speaks COMPRESS)."""

    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self.sock = sock
        self.deflate: Any = None
        self.inflate: Any = None
        self.buffer = b""
        self.read_until(rb"^\* OK")

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        return self.inflate.decompress(data) if self.inflate else data

    def read_until(self, pattern: bytes) -> bytes:
        regex = re.compile(pattern, re.M)
        for _ in range(10_000):
            m = regex.search(self.buffer)
            if m:
                end = self.buffer.find(b"\r\n", m.end()) + 2
                out, self.buffer = self.buffer[:end], self.buffer[end:]
                return out
            self.buffer += self._recv()
        raise AssertionError("no answer")

    def send(self, data: bytes) -> None:
        if self.deflate:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def command(self, tag: str, text: str | bytes) -> bytes:
        line = text.encode() if isinstance(text, str) else text
        self.send(tag.encode() + b" " + line + b"\r\n")
        return self.read_until(rb"^" + tag.encode() + rb" (OK|NO|BAD)")

    def compress(self) -> bytes:
        answer = self.command("c", "COMPRESS DEFLATE")
        if b"c OK" in answer:
            assert not self.buffer  # nothing may follow the OK uncompressed
            self.deflate, self.inflate = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)
        return answer


def _login(client: DeflateClient) -> None:
    assert b"l OK" in client.command("l", f'LOGIN "{ALICE}" "{PASSWORD}"')


def test_compressed_session(imap_server):
    imap_server.deliver(message("Squeezed"))
    with socket.create_connection((imap_server.host, imap_server.port), timeout=10) as sock:
        client = DeflateClient(sock)
        _login(client)
        assert b"COMPRESS=DEFLATE" in client.command("a", "CAPABILITY")
        assert client.compress().startswith(b"c OK")
        assert b"* 1 EXISTS" in client.command("s", "SELECT INBOX")
        assert b"Subject: Squeezed" in client.command("f", "FETCH 1 (BODY.PEEK[HEADER])")
        again = client.command("c2", "COMPRESS DEFLATE")
        assert again.startswith(b"c2 NO [COMPRESSIONACTIVE]")
        assert b"n OK" in client.command("n", "NOOP")  # the stream is still in step
        appended = client.command("p", b"APPEND INBOX {5+}\r\nHi!\r\n")
        assert b"p OK [APPENDUID" in appended


def test_compress_after_starttls(imap_server):
    context = imap_server.tls_client_context()
    with socket.create_connection((imap_server.host, imap_server.port), timeout=10) as raw:
        client = DeflateClient(raw)
        assert b"t OK" in client.command("t", "STARTTLS")
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            client.sock = tls
            _login(client)
            assert client.compress().startswith(b"c OK")
            assert b"s OK" in client.command("s", "SELECT INBOX")
            assert b"z OK" in client.command("z", "LOGOUT")


def test_compress_needs_a_login_and_a_known_mechanism(imap_server):
    with socket.create_connection((imap_server.host, imap_server.port), timeout=10) as sock:
        client = DeflateClient(sock)
        assert client.command("c", "COMPRESS DEFLATE").startswith(b"c BAD")
        _login(client)
        assert client.command("c", "COMPRESS LZMA").startswith(b"c BAD")
        assert client.compress().startswith(b"c OK")


def test_a_zip_bomb_line_is_cut_at_the_line_limit(imap_server):
    """A few hundred kilobytes that inflate to 256 MiB without a line end: the server says the line is
    too long (its limit here is 8 KiB) and hangs up, as it does for plain input."""
    with socket.create_connection((imap_server.host, imap_server.port), timeout=10) as sock:
        client = DeflateClient(sock)
        _login(client)
        client.compress()
        assert client.deflate is not None
        block = b"A" * (1 << 20)
        try:
            client.sock.sendall(client.deflate.compress(b"a NOOP "))
            for _ in range(256):
                client.sock.sendall(client.deflate.compress(block))
            client.sock.sendall(client.deflate.flush(zlib.Z_SYNC_FLUSH))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server hung up before the end: that is the point
        assert b"* BYE Line too long" in client.read_until(rb"^\* BYE")


def test_a_zip_bomb_literal_meets_the_literal_limit(imap_server):
    with socket.create_connection((imap_server.host, imap_server.port), timeout=10) as sock:
        client = DeflateClient(sock)
        _login(client)
        client.compress()
        assert b"a NO [TOOBIG]" in client.command("a", b"APPEND INBOX {2000000000}")


@pytest.mark.parametrize("limit", [100, 8192])
def test_inflation_stops_at_the_limit(limit):
    """The reader inflates only as far as a read needs: after refusing an endless line it holds at most
    the limit and one chunk, and most of the compressed input is still not inflated."""

    async def run() -> tuple[int, int]:
        inner = asyncio.StreamReader(limit=1 << 30)
        squeeze = zlib.compressobj(wbits=-15)
        bomb = squeeze.compress(b"x" * (64 << 20)) + squeeze.flush(zlib.Z_SYNC_FLUSH)
        inner.feed_data(bomb)
        inner.feed_eof()
        reader = DeflateReader(inner, limit)
        with pytest.raises(asyncio.LimitOverrunError):
            await reader.readuntil(b"\n")
        waiting = len(inner._buffer) + len(reader._inflate.unconsumed_tail)  # type: ignore[attr-defined]
        return len(reader._buffer), waiting

    held, waiting = asyncio.run(run())
    assert held <= limit + CHUNK
    assert waiting > 10_000  # compressed bytes never inflated


def test_a_line_and_a_literal_across_chunks():
    async def run() -> tuple[bytes, bytes, bytes]:
        inner = asyncio.StreamReader()
        squeeze = zlib.compressobj(wbits=-15)
        body = bytes(range(256)) * 1000
        inner.feed_data(squeeze.compress(b"a APPEND INBOX {256000}\r\n" + body + b"\r\nb NOOP\r\n")
                        + squeeze.flush(zlib.Z_SYNC_FLUSH))
        inner.feed_eof()
        reader = DeflateReader(inner, 8192)
        return await reader.readuntil(b"\n"), await reader.readexactly(256000), await reader.readuntil(b"\n")

    line, literal, rest = asyncio.run(run())
    assert line == b"a APPEND INBOX {256000}\r\n"
    assert literal == bytes(range(256)) * 1000
    assert rest == b"\r\n"


def test_shutdown_says_bye_compressed(imap_server):
    """The BYE of a server shutting down goes through the compressed stream the client is reading."""
    with socket.create_connection((imap_server.host, imap_server.port), timeout=10) as sock:
        client = DeflateClient(sock)
        _login(client)
        client.compress()
        assert b"n OK" in client.command("n", "NOOP")
        hub = imap_server.server.hub
        assert hub is not None
        asyncio.run_coroutine_threadsafe(imap_server.server.close(), hub.loop).result(10)
        assert b"* BYE Server shutting down" in client.read_until(rb"^\* BYE")
