"""8-bit, broken and hostile messages are stored and readable; parsing never raises."""

from __future__ import annotations

import pytest

from agents.store.mime import summarize

SAMPLES = {
    "8bit headers": b"From: J\xf6rg <j@x.de>\nSubject: Gr\xfc\xdfe \xff\xfe\n\nbody \x80\x81\n",
    "no headers": b"just a body without any header\n",
    "empty": b"",
    "broken boundary": b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nx\n--c--\n',
    "no boundary": b"Content-Type: multipart/mixed\n\nno parts at all\n",
    "bad encoded word": b"Subject: =?utf-8?b?!!!notbase64?= =?bogus-charset?q?x?=\n\n.\n",
    "bad address": b'From: <<<@@@>>>, "unterminated\nTo: ;;;,,,@\n\nx\n',
    "bad date": b"Date: 99 Foo 12345 99:99:99 +9999\nSubject: d\n\nx\n",
    "binary": bytes(range(256)) * 4,
    "nul in header": b"Subject: a\x00b\nFrom: a\x00@b\n\nx\n",
    "deep nesting": b"".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'.encode() for i in range(60)),
    "rfc2231 junk": b"Content-Type: text/plain; name*0*=x''%ZZ; name*1=y\n"
    b"Content-Disposition: attachment; filename*=\n\nx\n",
    "huge header": b"Subject: " + b"x" * 200_000 + b"\n\nbody\n",
    "many parts": b"Content-Type: multipart/mixed; boundary=x\n\n" + b"--x\nContent-Type: text/plain\n\nhi\n" * 3000,
    "huge address list": b"To: " + b"a@b.c, " * 5_000 + b"\nCc: " + b'"x" <a@b.c>: , ' * 500 + b"\n\nx\n",
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_hostile_message_is_stored_and_read_back(mailbox, name):
    raw = SAMPLES[name]
    _, uid = mailbox.deliver(raw)
    inbox = mailbox.folder("INBOX")
    stored = inbox.read(uid)
    assert stored.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    assert len(stored) == inbox.meta(uid).size
    assert isinstance(inbox.envelope(uid), list) and isinstance(inbox.bodystructure(uid), dict)
    assert isinstance(inbox.page(0, 1)[0].subject, str)


def test_list_text_of_a_huge_header_is_capped():
    assert len(summarize(SAMPLES["huge address list"]).to) <= 4096


def test_eight_bit_subject_is_readable_text():
    summary = summarize(SAMPLES["8bit headers"])
    assert summary.subject.startswith("Gr") and summary.from_.endswith("<j@x.de>")


@pytest.mark.parametrize("name", ["bad address", "nul in header", "8bit headers", "huge address list"])
def test_envelope_addresses_never_look_like_group_syntax_by_accident(name):
    envelope = summarize(SAMPLES[name]).envelope
    for addresses in (envelope[2], envelope[5], envelope[6]):
        depth = 0
        for _name, _adl, mailbox, host in addresses or []:
            if host is None and mailbox is not None:
                depth += 1  # group start
            elif host is None:
                depth -= 1  # group end
            assert mailbox is None or "\x00" not in mailbox
            assert depth in (0, 1)
        assert depth == 0
