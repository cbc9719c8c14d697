"""COMPRESS=DEFLATE (RFC 4978): the connection's streams wrapped in raw deflate (``wbits=-15``).

``DeflateReader`` inflates lazily, only as far as a read needs: a line is read until its
LF or the server's line limit, a literal to its announced (already limited) size. So a
small compressed input that inflates to gigabytes (a zip bomb) never costs more than the
limit plus one chunk of memory before the server refuses it, exactly as without compression.
``DeflateWriter`` compresses each write and flushes it (``Z_SYNC_FLUSH``) so the client
can decode every response at once.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

CHUNK = 64 * 1024  # inflated bytes produced per step


class DeflateReader:
    """The part of ``asyncio.StreamReader`` the IMAP server uses, over an inflating stream."""

    def __init__(self, inner: asyncio.StreamReader, limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self._inflate = zlib.decompressobj(wbits=-15)
        self._buffer = bytearray()  # inflated, not yet read (the server checks it is empty after STARTTLS)
        self._eof = False

    async def _more(self) -> None:
        """Inflate at most CHUNK more bytes, reading compressed input only when none is pending."""
        tail = self._inflate.unconsumed_tail
        if tail:
            self._buffer += self._inflate.decompress(tail, CHUNK)
            return
        data = await self.inner.read(CHUNK)
        if not data:
            self._eof = True
            return
        try:
            self._buffer += self._inflate.decompress(data, CHUNK)
        except zlib.error as exc:
            raise ConnectionError(f"bad deflate data: {exc}") from None

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        start = 0
        while True:
            at = self._buffer.find(separator, start)
            if at >= 0:
                end = at + len(separator)
                data = bytes(self._buffer[:end])
                del self._buffer[:end]
                return data
            start = max(0, len(self._buffer) - len(separator) + 1)
            if len(self._buffer) > self.limit:
                raise asyncio.LimitOverrunError("line over the limit", len(self._buffer))
            if self._eof:
                partial = bytes(self._buffer)
                self._buffer.clear()
                raise asyncio.IncompleteReadError(partial, None)
            await self._more()

    async def readexactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            if self._eof:
                partial = bytes(self._buffer)
                self._buffer.clear()
                raise asyncio.IncompleteReadError(partial, n)
            await self._more()
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data


class DeflateWriter:
    """The part of ``asyncio.StreamWriter`` the IMAP server uses, compressing what it writes."""

    def __init__(self, inner: asyncio.StreamWriter) -> None:
        self.inner = inner
        self._deflate = zlib.compressobj(wbits=-15)

    def write(self, data: bytes) -> None:
        if data:
            self.inner.write(self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH))

    async def drain(self) -> None:
        await self.inner.drain()

    def close(self) -> None:
        self.inner.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.inner.get_extra_info(name, default)


Reader = asyncio.StreamReader | DeflateReader
Writer = asyncio.StreamWriter | DeflateWriter
