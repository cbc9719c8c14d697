"""The full-text index answers BODY/TEXT searches as the old per-message scan did."""

from __future__ import annotations

import base64
import quopri
import random
import sqlite3

import pytest

from agents.store import MailboxStore, Store, fulltext, textbits
from agents.store.index import forget
from agents.store.mime import decoded, searchable_text

from .conftest import message

WORDS = ["apfel", "birne", "kirsche", "straße", "grüße", "köln", "пример", "日本語テキスト", "café", "zebra",
         "quokka", "xylofon", "ÉCOLE", "naïve", "brot", "milch", "Wolke", "sonne", "regen", "schnee"]  # fmt: skip



@pytest.fixture(autouse=True, params=["words", "bits", "bits-partly"])
def answered_by(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the FTS5 word index alone, with posting bitmaps folded at once, and with bitmaps
    folded a few rows a search (the rest from the word index) and few common terms (pair keys for some
    neighbours only)."""
    monkeypatch.setattr(textbits, "FOLD_AT", 10**9 if request.param == "words" else 1)
    if request.param == "bits-partly":
        monkeypatch.setattr(textbits, "BATCH", 7)
        monkeypatch.setattr(textbits, "COMMON_MAX", 12)
    return str(request.param)

def _plain(words: str) -> tuple[str, bytes]:
    return "text/plain; charset=utf-8", words.encode()


def _corpus(count: int, seed: int = 21) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
        subject_word = rng.choice(WORDS)
        subject = f"=?utf-8?b?{base64.b64encode(subject_word.encode()).decode()}?= no {n}"
        kind = n % 6
        head = f"From: a@example.org\r\nTo: b@example.com\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
        if kind == 0:
            body = f"Content-Type: text/plain; charset=utf-8\r\n\r\n{words}\r\n".encode()
        elif kind == 1:
            encoded = base64.encodebytes(words.encode()).replace(b"\n", b"\r\n")
            body = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + encoded
        elif kind == 2:
            html = "<html><body><p>" + words.replace(" ", " <b>x</b> ", 1) + "</p></body></html>"
            body = f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n".encode()
        elif kind == 3:
            encoded = quopri.encodestring(words.encode("iso-8859-5", "replace")
                                          if "пример" in words else words.encode("latin-1", "replace"))  # fmt: skip
            charset = "iso-8859-5" if "пример" in words else "iso-8859-1"
            body = (f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: quoted-printable"
                    "\r\n\r\n").encode() + encoded  # fmt: skip
        elif kind == 4:
            html = base64.encodebytes(f"<div>{words}</div>".encode()).replace(b"\n", b"\r\n")
            body = (b'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n--b1\r\n'
                    b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                    + html + b"--b1--\r\n")  # fmt: skip
        else:
            att = base64.encodebytes(bytes(rng.randrange(256) for _ in range(300))).replace(b"\n", b"\r\n")
            body = (b'Content-Type: multipart/mixed; boundary="b2"\r\n\r\n--b2\r\n'
                    b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + words.encode() + b"\r\n--b2\r\n"
                    b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                    + att + b"--b2--\r\n")  # fmt: skip
        out.append(head.encode() + body)
    return out


def _old_scan(mailbox: MailboxStore, folder: str, needle: str, body_only: bool) -> list[int]:
    """The per-message scan SEARCH did before the index, plus RFC 2047 words decoded (an intended gain)."""
    inbox = mailbox.folder(folder)
    found = []
    for uid in inbox.uids():
        raw = inbox.read(uid)
        text = searchable_text(raw, body_only)
        if not body_only:
            text += "\n" + decoded(raw.split(b"\r\n\r\n", 1)[0].decode())
        if needle.casefold() in text.casefold():
            found.append(uid)
    return found


def test_index_answers_as_the_old_scan_did(mailbox: MailboxStore):
    corpus = _corpus(120)
    results = mailbox.deliver_many([(raw, f"key-{n}", "INBOX", ()) for n, raw in enumerate(corpus[:60])])
    assert not [r for r in results if isinstance(r, Exception)]
    for raw in corpus[60:]:
        mailbox.deliver(raw)
    inbox = mailbox.folder("INBOX")
    assert len(inbox.uids()) == 120
    for word in [*WORDS, "STRASSE", "Köln", "KÖLN", "e k", "ol", "é", "テキ"]:
        for body_only in (True, False):
            expected = _old_scan(mailbox, "INBOX", word, body_only)
            assert inbox.search_text(word, body_only=body_only) == expected, (word, body_only)
    assert inbox.search_text("kirsche") != []  # the corpus does hold the words


def test_html_is_searched_as_text_and_markup_is_not(mailbox: MailboxStore):
    html = (
        b"Content-Type: text/html\r\n\r\n<p style='color:red'>Caf&eacute; <b>con</b>tent<script>secret()</script>\r\n"
    )
    _, uid = mailbox.deliver(b"Subject: h\r\n" + html)
    inbox = mailbox.folder("INBOX")
    assert inbox.search_text("café", body_only=True) == [uid]
    assert inbox.search_text("content", body_only=True) == [uid]
    assert inbox.search_text("color", body_only=True) == []
    assert inbox.search_text("secret", body_only=True) == []


def test_expunged_and_moved_messages_leave_the_results(mailbox: MailboxStore):
    mailbox.create_folder("Archive")
    for n in range(4):
        mailbox.deliver(message(f"m{n}", body="the quokka smiles\n"))
    inbox, archive = mailbox.folder("INBOX"), mailbox.folder("Archive")
    assert inbox.search_text("quokka") == [1, 2, 3, 4]
    inbox.store_flags([2], ["\\Deleted"], "add")
    inbox.expunge()
    assert inbox.search_text("quokka") == [1, 3, 4]
    inbox.move([3], "Archive")
    inbox.copy([4], "Archive")
    assert inbox.search_text("QUOKKA") == [1, 4]
    assert archive.search_text("quokka") == [1, 2]
    with sqlite3.connect(mailbox.index_path) as conn:
        rows = conn.execute("SELECT count(*) FROM fulltext_text").fetchone()[0]
    assert rows == 4
    mailbox.delete_folder("Archive")
    with sqlite3.connect(mailbox.index_path) as conn:
        assert conn.execute("SELECT count(*) FROM fulltext_text").fetchone()[0] == 2


def test_glob_characters_are_literal(mailbox: MailboxStore):
    mailbox.deliver(message("a", body="price*2 [draft] what?\n"))
    mailbox.deliver(message("b", body="price22 draft] what\n"))
    inbox = mailbox.folder("INBOX")
    assert inbox.search_text("e*2") == [1]
    assert inbox.search_text("[draft]") == [1]
    assert inbox.search_text("what?") == [1]
    assert inbox.search_text("t]") == [1, 2]


def test_text_beyond_the_cap_is_still_found(mailbox: MailboxStore):
    filler = "lorem ipsum " * (fulltext.MAX_BODY // 10)
    mailbox.deliver(message("long", body=filler + "needleword\n"))
    mailbox.deliver(message("short", body="needleword\n"))
    inbox = mailbox.folder("INBOX")
    with sqlite3.connect(mailbox.index_path) as conn:
        longest = conn.execute("SELECT max(length(body)) FROM fulltext_text").fetchone()[0]
    assert longest <= fulltext.MAX_BODY
    assert inbox.search_text("needleword") == [1, 2]


def test_mime_bomb_is_indexed_within_the_caps(mailbox: MailboxStore):
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nboom boom boom\r\n" for _ in range(20_000))
    bomb = b'Subject: bomb\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    mailbox.deliver(bomb)
    with sqlite3.connect(mailbox.index_path) as conn:
        head, body = conn.execute("SELECT length(head), length(body) FROM fulltext_text").fetchone()
    assert head <= fulltext.MAX_HEAD and body <= fulltext.MAX_BODY
    assert mailbox.folder("INBOX").search_text("boom") == [1]


def test_old_messages_are_indexed_lazily_and_by_catch_up(store: Store):
    mailbox = store.mailbox("alice@example.com")
    for n in range(7):
        mailbox.deliver(message(f"old {n}", body=f"word{n} shared\n"))
    forget(mailbox.index_path)
    with sqlite3.connect(mailbox.index_path) as conn:  # as an index made before the table existed
        conn.execute("DELETE FROM fulltext_text")
        conn.execute("INSERT INTO fulltext_words (fulltext_words) VALUES ('delete-all')")
        conn.execute("DELETE FROM fulltext_done")
    mailbox = store.mailbox("alice@example.com")
    inbox = mailbox.folder("INBOX")
    assert inbox.index_text(limit=3) == [4, 5, 6, 7]
    assert inbox.search_text("shared") == [1, 2, 3, 4, 5, 6, 7]  # indexes the rest of a small folder
    assert inbox.index_text() == []
    with sqlite3.connect(mailbox.index_path) as conn:
        assert conn.execute("SELECT count(*) FROM fulltext_text").fetchone()[0] == 7
    assert inbox.search_text("word5") == [6]


def test_unindexed_beyond_the_lazy_batch_are_read_from_files(store: Store):
    mailbox = store.mailbox("alice@example.com")
    for n in range(5):
        mailbox.deliver(message(f"old {n}", body=f"token{n}\n"))
    with sqlite3.connect(mailbox.index_path) as conn:
        conn.execute("DELETE FROM fulltext_text")
        conn.execute("INSERT INTO fulltext_words (fulltext_words) VALUES ('delete-all')")
        conn.execute("DELETE FROM fulltext_done")
    inbox = store.mailbox("alice@example.com").folder("INBOX")
    assert fulltext.search(inbox, "token4", body_only=True, lazy=2) == [5]
    assert fulltext.search(inbox, "token", body_only=True, lazy=2) == [1, 2, 3, 4, 5]
    assert inbox.index_text(limit=2) == []  # two searches indexed two each, this call the last one


def test_odd_charsets_are_indexed_leniently(mailbox: MailboxStore):
    for charset in ('"\x00"', "x-unknown", "utf-7"):
        mailbox.deliver(f"Subject: c\r\nContent-Type: text/plain; charset={charset}\r\n\r\nsurvives fine\r\n".encode())
    assert mailbox.folder("INBOX").search_text("survives") == [1, 2, 3]
