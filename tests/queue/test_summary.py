"""The queue listing's Message-ID and Subject: the fast path for plain fields gives what the
email parser gives (differential, over random header blocks)."""

from __future__ import annotations

import random
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from agents.queue import _plain_summary, _summary

FIELDS = [
    b"Subject: hello world\r\n", b"subject:  x  \r\n", b"Subject: a\r\n b\r\n", b"Message-ID: <a@b>\r\n",
    b"Message-Id: <x.y@z> \r\n", b"Message-ID: <a@b> (c)\r\n", b"Subject: =?utf-8?q?caf=C3=A9?=\r\n",
    b"Subject: caf\xc3\xa9\r\n", b"From: a@b\r\n", b"X-Subject: no\r\n", b"Subject:\r\n", b"Message-ID:\r\n",
    b"Subject: tab\there\r\n", b"Message-ID:\r\n <folded@x>\r\n", b"Subject: trailing\t\r\n",
    b"Message-ID: <a@b>\r\n\t\r\n", b"Message-ID: a@b\r\n",
]  # fmt: skip


def parser(raw: bytes) -> tuple[str, str]:
    head = raw[: raw.find(b"\r\n\r\n") + 2]
    headers = BytesHeaderParser(policy=default_policy).parsebytes(head)
    return str(headers.get("Message-ID", "") or "").strip(), str(headers.get("Subject", "") or "").strip()


def test_the_fast_path_agrees_with_the_email_parser():
    rng = random.Random(15)
    fast = 0
    for _ in range(3000):
        raw = b"".join(rng.choice(FIELDS) for _ in range(rng.randrange(0, 5))) + b"\r\nbody\r\n"
        assert _summary(raw) == parser(raw), raw
        fast += _plain_summary(raw[: raw.find(b"\r\n\r\n") + 2]) is not None
    assert fast > 500, "the fast path is taken for plain fields"


def test_a_plain_message_takes_the_fast_path():
    head = b"From: a@remote.test\r\nSubject: load\r\nMessage-ID: <1@x.test>\r\n"
    assert _plain_summary(head) == ("<1@x.test>", "load")
