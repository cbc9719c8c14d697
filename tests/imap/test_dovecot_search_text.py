"""Differential test against Dovecot (no FTS plugin: substring search over decoded text) for SEARCH BODY and
TEXT: words, parts of words, single characters, phrases and punctuation, answered by our full-text index with
its FTS5 word index alone and with its posting bitmaps (folded at once, and a few rows a search).

The messages are plain text (one part, UTF-8, some base64), where both servers search the same
decoded text; HTML and attachments are where we differ on purpose (docs/search.md).
"""

from __future__ import annotations

import base64
import random

import pytest

from agents.store import textbits

from .test_dovecot_extensions import _fill, _run_both, reference  # noqa: F401  (the Dovecot fixture)

WORDS = ["alpha", "alphabet", "beta-gamma", "mail@example.org", "x2y3", "über", "naïve", "thing", "string",
         "nothing", "the", "other", "a.b.c", "(paren)", "50%", "--", "motion", "nation"]  # fmt: skip
NEEDLES = ["alpha", "ALPH", "lph", "bet", "a", "e", "%", "@", "-", ".", "-gamma", "gamma mail", "a.b", "b.c (",
           "ing", "thing", "hing", "tion", "the", "the other", "he oth", "x2", "2y", "über", "ÜBER", "naïve",
           "50% -", "zz-absent", "thing string", "g s", "mail@example", "example.org"]  # fmt: skip


def _texts(count: int = 30, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 9))) for _ in range(count)]


def _phrases() -> list[str]:
    """Pieces of the texts across word boundaries (parts of two or three words and what is between)."""
    out = []
    for text in _texts()[:12]:
        space = text.find(" ")
        if space > 0:
            out += [text[max(0, space - 3) : space + 4], text[: min(len(text), space + 9)]]
    return out


def _corpus() -> list[tuple[bytes, int]]:
    out = []
    for n, text in enumerate(_texts()):
        subject = ["plain", "thing", "report"][n % 3] + f" {n}"
        head = (f"From: a@example.org\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
                f"Message-ID: <d{n}@example.org>\r\n")  # fmt: skip
        if n % 3 == 1:
            body = base64.encodebytes(text.encode()).decode().replace("\n", "\r\n")
            raw = head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body
        else:
            raw = head + f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        out.append((raw.encode(), n))
    return out


def _literal(needle: str) -> str:
    """The needle as an IMAP string, in the form ``converse`` sends (UTF-8 bytes as latin-1 characters)."""
    data = needle.encode()
    return f'"{needle}"' if data.isascii() else f"{{{len(data)}+}}\r\n{data.decode('latin-1')}"


@pytest.mark.parametrize("answered_by", ["words", "bits", "bits-partly"])
def test_body_and_text_search_like_dovecot(imap_server, reference, monkeypatch, answered_by):  # noqa: F811
    monkeypatch.setattr(textbits, "FOLD_AT", 10**9 if answered_by == "words" else 1)
    if answered_by == "bits-partly":
        monkeypatch.setattr(textbits, "BATCH", 4)
        monkeypatch.setattr(textbits, "COMMON_MAX", 8)  # pair keys for some neighbours only
    _fill(imap_server, reference, _corpus())
    # TEXT only for words: field names and addresses of the header block are searched differently
    commands = [f"UID SEARCH CHARSET UTF-8 {key} {_literal(needle)}"
                for needle in NEEDLES + _phrases() for key in ("BODY", "TEXT")
                if key == "BODY" or needle.isalpha()]  # fmt: skip
    ours, theirs, tags = _run_both(imap_server, reference, commands)
    differences = [(command, ours.get(tag), theirs.get(tag)) for tag, command in zip(tags, commands, strict=True)
                   if ours.get(tag) != theirs.get(tag)]  # fmt: skip
    assert not differences
    found = [command for tag, command in zip(tags, commands, strict=True) if theirs[tag][2] != [b"* SEARCH"]]
    assert len(found) > 40 and sum(" " in command.split("UTF-8 ")[1] for command in found) > 10
