"""Our faster MAIL/RCPT address parsing answers exactly as aiosmtpd's own, hostile forms included."""

from __future__ import annotations

import pytest
from aiosmtpd.smtp import SMTP

from agents.smtp.protocol import MailSMTP

CASES = [
    "<alice@example.com>", "<alice@example.com> SIZE=100 BODY=8BITMIME", "<alice@example.com>   ",
    "<a@b.c> (comment) SIZE=1", " <a.b+c@x-y.example.org>", "<>", "<> SIZE=5", "<a..b@x.com>", '<"q u"@x.com>',
    "alice@example.com", "<a@b@c>", "<a@[1.2.3.4]>", "<a@-x.com>", "<ü@x.de>", "<a@x.com", "<a@x.com>>",
    "<a@x.com>\tSMTPUTF8", "<@route:a@x.com>", "<" + "a" * 300 + "@x.com>", "<a@x.com>\r", "<a\x00b@x.com>",
]


class Limits:
    local_part_limit = 0


@pytest.mark.parametrize("arg", CASES)
def test_same_answer_as_aiosmtpd(arg):
    assert MailSMTP._getaddr(Limits(), arg) == SMTP._getaddr(Limits(), arg)  # type: ignore[arg-type]
