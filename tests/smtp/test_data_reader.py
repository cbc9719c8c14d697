"""The one-pass DATA reader (``agents.smtp.data``) gives what aiosmtpd's line-by-line reader gave.

The reference below is aiosmtpd 1.4.6's ``smtp_DATA`` loop reduced to its outcome (body after
dot-unstuffing, or the refusal); both read the same bytes, fed to a real ``StreamReader`` in
pieces of every size, and must agree, and leave what follows the final dot unread.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from agents.smtp import data

LINE_LIMIT = 1001
SIZE_LIMIT = 4000


def reference(stream: bytes, size_limit: int, line_limit: int) -> tuple[bytes | None, str]:
    """aiosmtpd's outcome: (unstuffed body, NOMINAL) or (None, the refusal)."""
    num_bytes = 0
    state = data.NOMINAL
    lines = []
    pos = 0
    while True:
        end = stream.find(b"\r\n", pos)
        line = stream[pos : end + 2]
        pos = end + 2
        if len(line) - 2 > line_limit and state is data.NOMINAL:  # StreamReader's limit overrun
            state = data.TOO_LONG
        if line == b".\r\n":
            break
        num_bytes += len(line)
        if state is data.NOMINAL and num_bytes > size_limit:
            state = data.TOO_MUCH
        if state is data.NOMINAL and len(line) > line_limit:
            state = data.TOO_LONG
        lines.append(line[1:] if line.startswith(b".") else line)
    return (b"".join(lines), state) if state is data.NOMINAL else (None, state)


async def ours(stream: bytes, piece: int, size_limit: int, line_limit: int) -> tuple[bytes | None, str, bytes]:
    reader = asyncio.StreamReader(limit=line_limit)
    for start in range(0, len(stream), piece):
        reader.feed_data(stream[start : start + piece])
    reader.feed_eof()
    body, state = await data.read_body(reader, size_limit, line_limit)
    rest = await reader.read()
    assert body is not None
    return (data.unstuff(body) if state is data.NOMINAL else None), state, rest


def run(stream: bytes, piece: int = 1 << 20, size_limit: int = SIZE_LIMIT, line_limit: int = LINE_LIMIT):
    return asyncio.run(ours(stream, piece, size_limit, line_limit))


AFTER = b"MAIL FROM:<next@example.com>\r\n"


@pytest.mark.parametrize("body", [
    b"",
    b"Subject: x\r\n\r\nhello\r\n",
    b"Subject: x\r\n\r\nThanks.\r\nRegards.\r\n",  # lines ending in a dot are not the end
    b"..leading dot\r\n...two\r\nmid . dot\r\n.\tnot the end\r\n",  # dot-stuffed lines
    b". \r\n.x\r\n",
    b"Subject: x\r\n\r\n" + (b"y" * 998 + b"\r\n") * 3,  # lines at the limit
])
@pytest.mark.parametrize("piece", [1, 2, 3, 5, 7, 4096])
def test_bodies_and_pipelined_rest_match_aiosmtpd(body, piece):
    stream = body + b".\r\n" + AFTER
    got_body, state, rest = run(stream, piece)
    assert (got_body, state) == reference(stream, SIZE_LIMIT, LINE_LIMIT)
    assert rest == AFTER, "what the client sent after the final dot is left for the next command"


def test_a_too_long_line_is_refused_after_the_final_dot():
    stream = b"Subject: x\r\n\r\n" + b"y" * 1000 + b"\r\nok\r\n.\r\n" + AFTER
    body, state, rest = run(stream, 13)
    assert (body, state) == (None, data.TOO_LONG) == reference(stream, SIZE_LIMIT, LINE_LIMIT)
    assert rest == AFTER


def test_too_much_data_is_refused_and_dropped_without_keeping_it():
    stream = (b"z" * 70 + b"\r\n") * 50_000 + b".\r\n" + AFTER  # 3.6 MB against a 4 KB limit
    body, state, rest = run(stream, 65536)
    assert (body, state) == (None, data.TOO_MUCH) == reference(stream, SIZE_LIMIT, LINE_LIMIT)
    assert rest == AFTER


def test_a_body_longer_than_one_read_chunk_arrives_whole():
    body = b"Subject: big\r\n\r\n" + (b"q" * 500 + b"\r\n") * 2000  # 1 MB, no ".\r\n" inside
    stream = body + b".\r\n" + AFTER
    got, state, rest = run(stream, 65536, size_limit=10 * 1024 * 1024)
    assert (got, state, rest) == (body, data.NOMINAL, AFTER)


def test_the_stream_ending_before_the_final_dot_gives_nothing():
    async def go():
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        reader.feed_data(b"Subject: x\r\n\r\ncut off")
        reader.feed_eof()
        return await data.read_body(reader, SIZE_LIMIT, LINE_LIMIT)

    assert asyncio.run(go()) == (None, data.NOMINAL)


def test_random_streams_match_aiosmtpd():
    rng = random.Random(15)
    alphabet = [b".", b"\r\n", b"a", b"b" * 40, b"c" * 400, b"\r", b"\n", b". "]
    for _ in range(400):
        body = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        if not body.endswith(b"\r\n") and body:
            body += b"\r\n"
        while b"\r\n.\r\n" in body:  # no early final line in the body
            body = body.replace(b"\r\n.\r\n", b"\r\n..\r\n")
        if body.startswith(b".\r\n"):
            body = b"." + body
        stream = body + b".\r\n" + AFTER
        size_limit, line_limit = rng.choice([(4000, 1001), (300, 200), (100000, 50)])
        got_body, state, rest = run(stream, rng.choice([1, 2, 3, 17, 1 << 20]), size_limit, line_limit)
        assert (got_body, state) == reference(stream, size_limit, line_limit), stream
        assert rest == AFTER
