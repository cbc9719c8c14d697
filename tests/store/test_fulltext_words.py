"""The word index answers every needle as a substring search over the text would, whether a message's text is
already in the word index or still pending, and an index of schema 5 (trigrams) is upgraded keeping its text."""

from __future__ import annotations

import random
import sqlite3

import pytest

from agents.store import MailboxStore, Store, fulltext, textbits
from agents.store.index import SCHEMA_VERSION, forget

from .conftest import message

PIECES = ["alpha", "beta-gamma", "mail@example.org", "snake_case", "x2y3", "über", "straße", "naïve", "日本語",
          "a.b.c", "(paren)", "50%", "tab\tsep", "--", "quo\"te", "www.test.example/path?q=1"]  # fmt: skip



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

def _bodies(count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 8))) + "\n" for _ in range(count)]


def _needles() -> list[str]:
    """Whole pieces, every part of some, and phrases across separators."""
    out = {"alpha beta", "gamma mail", "@example", "snake_", "_case", "-g", ". ", "%", "日本", "ÜBER", "STRASSE",
           "zz-absent", "a", "e", "2y", "q=1", "\"te", "a b", "tab\ts", "a m", "a mail", "alpha b", "c (",
           "a.b.c (par", "beta-gamma beta", "ta-ga", "x2y3 a", "e ü", "語 a",
           "a beta-gamma alpha", "e x", "l naï", "ve über"}  # fmt: skip
    for piece in ("alpha", "beta-gamma", "straße", "x2y3"):
        out.update(piece[i:j] for i in range(len(piece)) for j in range(i + 1, len(piece) + 1))
    return sorted(out)


def _scan(mailbox: MailboxStore, needle: str, body_only: bool) -> list[int]:
    inbox = mailbox.folder("INBOX")
    found = []
    for uid in inbox.uids():
        head, body = fulltext.extract(inbox.read(uid))
        text = body if body_only else body + "\n" + head
        if needle.casefold() in text.casefold():
            found.append(uid)
    return found


def _check(mailbox: MailboxStore) -> None:
    inbox = mailbox.folder("INBOX")
    for needle in _needles():
        for body_only in (True, False):
            assert inbox.search_text(needle, body_only=body_only) == _scan(mailbox, needle, body_only), (
                needle,
                body_only,
            )


def _integrity(mailbox: MailboxStore) -> None:
    """Pending texts are put into the word index, then it must hold exactly the stored text (no row forgotten
    with the wrong words, none left behind)."""
    for info in mailbox.list_folders():
        folder = mailbox.folder(info.name)
        fulltext.index_pending(folder._index, folder.id, 1_000_000)
    with sqlite3.connect(mailbox.index_path) as conn:  # raises if the word index disagrees with the stored text
        conn.execute("INSERT INTO fulltext_words (fulltext_words, rank) VALUES ('integrity-check', 1)")


def test_word_parts_and_phrases_answer_as_a_scan(mailbox: MailboxStore, answered_by: str):
    for n, body in enumerate(_bodies(40)):
        mailbox.deliver(message(f"s{n}", body=body))
    _check(mailbox)  # the first search put every pending text into the word index
    with sqlite3.connect(mailbox.index_path) as conn:
        assert conn.execute("SELECT count(*) FROM fulltext_pending").fetchone()[0] == 0
        folded = conn.execute("SELECT coalesce(max(upto), 0) FROM fulltext_bitstate").fetchone()[0]
    assert folded == {"words": 0, "bits": 40, "bits-partly": 40}[answered_by]  # 7 a search, and 40+ searches
    _integrity(mailbox)


def test_texts_beyond_a_search_share_are_still_found(mailbox: MailboxStore, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(fulltext, "WORDS_BATCH", 3)
    for n, body in enumerate(_bodies(20, seed=9)):
        mailbox.deliver(message(f"p{n}", body=body))
    inbox = mailbox.folder("INBOX")
    assert inbox.search_text("alpha") == _scan(mailbox, "alpha", False)  # 3 indexed, 17 checked in their text
    with sqlite3.connect(mailbox.index_path) as conn:
        assert conn.execute("SELECT count(*) FROM fulltext_pending").fetchone()[0] == 17
    _check(mailbox)
    _integrity(mailbox)


def test_expunge_copy_and_move_keep_the_word_index_consistent(mailbox: MailboxStore):
    mailbox.create_folder("Archive")
    for n in range(6):
        mailbox.deliver(message(f"e{n}", body=f"common word{n}\n"))
    inbox = mailbox.folder("INBOX")
    assert inbox.search_text("common") == [1, 2, 3, 4, 5, 6]  # 1-6 now in the word index
    for n in range(6, 9):
        mailbox.deliver(message(f"e{n}", body=f"common word{n}\n"))  # 7-9 pending
    inbox.store_flags([2, 8], ["\\Deleted"], "add")
    inbox.expunge()  # one indexed, one pending
    inbox.copy([3, 9], "Archive")
    inbox.move([4], "Archive")
    _integrity(mailbox)
    assert inbox.search_text("common") == [1, 3, 5, 6, 7, 9]
    assert inbox.search_text("word7") == [] and inbox.search_text("word1") == []  # e7 (UID 8), e1 (UID 2)
    assert mailbox.folder("Archive").search_text("common") == [1, 2, 3]
    assert mailbox.folder("Archive").search_text("word8") == [2]
    mailbox.delete_folder("Archive")
    _integrity(mailbox)
    with sqlite3.connect(mailbox.index_path) as conn:
        assert conn.execute("SELECT count(*) FROM fulltext_text").fetchone()[0] == 6


V5 = """
DROP TRIGGER messages_fulltext_gone;
DROP TABLE fulltext_words; DROP TABLE fulltext_terms_tri; DROP TABLE fulltext_terms; DROP TABLE fulltext_pending;
CREATE VIRTUAL TABLE fulltext USING fts5(head, body, tokenize = 'trigram case_sensitive 1', detail = none);
INSERT INTO fulltext (rowid, head, body) SELECT id, head, body FROM fulltext_text;
DROP TABLE fulltext_text;
CREATE TRIGGER messages_fulltext_del AFTER DELETE ON messages BEGIN
    DELETE FROM fulltext WHERE rowid = (OLD.folder_id << 32) | OLD.uid;
    DELETE FROM fulltext_long WHERE folder_id = OLD.folder_id AND uid = OLD.uid;
END;
UPDATE meta SET value = '5' WHERE key = 'schema';
"""


def test_a_schema_5_index_is_upgraded_keeping_its_text(store: Store):
    mailbox = store.mailbox("alice@example.com")
    for n, body in enumerate(_bodies(12, seed=3)):
        mailbox.deliver(message(f"u{n}", body=body))
    expected = {needle: _scan(mailbox, needle, False) for needle in ("alpha", "mail@example", "ße", "a")}
    forget(mailbox.index_path)
    with sqlite3.connect(mailbox.index_path) as conn:  # the layout and rows that schema-5 code left
        conn.executescript(V5)
    mailbox = store.mailbox("alice@example.com")
    with sqlite3.connect(mailbox.index_path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == str(SCHEMA_VERSION)
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'fulltext'").fetchone()
        assert conn.execute("SELECT count(*) FROM fulltext_text").fetchone()[0] == 12
        assert conn.execute("SELECT count(*) FROM fulltext_pending").fetchone()[0] == 0
    inbox = mailbox.folder("INBOX")
    for needle, uids in expected.items():
        assert inbox.search_text(needle) == uids, needle
    inbox.store_flags([1], ["\\Deleted"], "add")
    inbox.expunge()
    _integrity(mailbox)
    assert inbox.search_text("alpha") == [u for u in expected["alpha"] if u != 1]


def test_a_term_longer_than_fts5_keeps_is_checked_in_the_text(mailbox: MailboxStore):
    rng = random.Random(1)
    giant = "".join(rng.choice("abcdefghij") for _ in range(40_000))  # FTS5 keeps its first 32 KiB
    mailbox.deliver(message("giant", body=giant + " tail\n"))
    mailbox.deliver(message("cut", body=giant[:33_000] + "zzzz\n"))  # the same first 32 KiB
    inbox = mailbox.folder("INBOX")
    assert inbox.search_text("zzzz") == [2]
    assert inbox.search_text(giant[32_990:33_010]) == [1]
    assert inbox.search_text(giant[100:120]) == [1, 2]
    assert inbox.search_text(giant[-12:] + " tail") == [1]


def test_a_repeated_search_stays_exact_as_mail_comes_and_goes(mailbox: MailboxStore):
    """A phrase's answer is kept by the process and completed later: new mail, expunged mail and a folder
    created again under the same name all show in the next answer."""
    bodies = _bodies(60, seed=13)
    for n, body in enumerate(bodies[:30]):
        mailbox.deliver(message(f"r{n}", body=body))
    inbox = mailbox.folder("INBOX")
    phrases = ["alpha beta", "gamma mail", "a.b", "-g", "x2y3 ü"]
    for needle in phrases:
        assert inbox.search_text(needle) == _scan(mailbox, needle, False), needle
    for n, body in enumerate(bodies[30:45]):
        mailbox.deliver(message(f"r{30 + n}", body=body))
    inbox.store_flags([1, 2, 3, 17, 33], ["\\Deleted"], "add")
    inbox.expunge()
    for needle in phrases:
        assert inbox.search_text(needle) == _scan(mailbox, needle, False), needle
        assert inbox.search_text(needle, body_only=True) == _scan(mailbox, needle, True), needle
    for round_, seed in enumerate((19, 23)):  # the second "Work" may get the first one's folder id again
        mailbox.create_folder("Work")
        work = mailbox.folder("Work")
        for n, body in enumerate(_bodies(15, seed=seed)):
            work.append(message(f"w{round_}-{n}", body=body))
        for needle in [*phrases, "alpha", "e"]:
            expected = [uid for uid in work.uids() if needle in _text(work, uid)]
            assert work.search_text(needle) == expected, (round_, needle)
        if round_ == 0:
            mailbox.delete_folder("Work")
    _integrity(mailbox)


def _text(folder, uid: int) -> str:  # type: ignore[no-untyped-def]
    head, body = fulltext.extract(folder.read(uid))
    return (body + "\n" + head).casefold()


def test_bitmaps_are_started_over_when_they_could_miss_rows(mailbox: MailboxStore, monkeypatch, answered_by: str):
    """Many expunged rows, a text stored below the folded UIDs (an old message indexed late) and a new
    UIDVALIDITY each start the folder's bitmaps over; every answer stays a scan's."""
    monkeypatch.setattr(textbits, "GONE_MIN", 3)
    for n, body in enumerate(_bodies(24, seed=17)):
        mailbox.deliver(message(f"g{n}", body=body))
    inbox = mailbox.folder("INBOX")
    _check(mailbox)

    def generation() -> int | None:
        found = textbits.state(inbox._index.conn, inbox.id)
        return None if found is None else found[1]

    before = generation()
    inbox.store_flags(list(range(1, 15)), ["\\Deleted"], "add")
    inbox.expunge()
    _check(mailbox)
    if answered_by != "words":
        assert generation() != before  # 14 of 24 expunged: started over
        with sqlite3.connect(mailbox.index_path) as conn:
            assert conn.execute("SELECT count(*) FROM fulltext_gone").fetchone()[0] == 0
    before = generation()
    with inbox._index.write() as conn:  # as an index of older code has it: some texts never stored
        for uid in (16, 18):
            fulltext._remove(conn, fulltext.rowid(inbox.id, uid), fulltext.rowid(inbox.id, uid))
        fulltext.mark_incomplete(conn, inbox.id)
    _check(mailbox)  # the first search stores them again, below the folded UIDs
    if answered_by != "words":
        assert generation() != before
    with inbox._index.write() as conn:
        conn.execute("UPDATE folders SET uidvalidity = uidvalidity + 1 WHERE id = ?", (inbox.id,))
    assert textbits.state(inbox._index.conn, inbox.id) is None  # never answers for another UIDVALIDITY
    _check(mailbox)
    _integrity(mailbox)


def test_phrases_across_common_and_rare_neighbours(mailbox: MailboxStore, monkeypatch, answered_by: str):
    """A phrase's two words may each be common (pair keys) or rare (their rows): every mix, with the words
    whole or cut at the phrase's ends, answers as a scan."""
    monkeypatch.setattr(textbits, "COMMON_SHARE", 0.5)
    monkeypatch.setattr(textbits, "COMMON_MAX", 100)
    for n in range(10):
        mailbox.deliver(message(f"c{n}", body="the of and the\n"))  # the first folded rows: the, of, and common
    for n, body in enumerate(["the zebra\n", "quokka of\n", "quokka zebra\n", "the of\n", "xthe ofx\n",
                              "a zebra\n", "quokka o\n", "the, zebra\n", "the  zebra\n", "of the and\n",
                              "the of zebra of and\n"]):  # fmt: skip
        mailbox.deliver(message(f"p{n}", body=body))
    inbox = mailbox.folder("INBOX")
    needles = ["the zebra", "he zeb", "e z", "quokka of", "kka o", "a o", "quokka zebra", "kka zeb", "a z",
               "the of", "he o", "e o", "the of and", "of the and", "e, z", "e  z", "the o", "he of",
               "the zebra ", " the zebra", "e zebra\n", "he ze", "ka of", "ka ze", "ra qu", "of ze", "he o",
               "ka o", "e ze", "xthe of", "he ofx"]  # fmt: skip
    for needle in needles:
        for body_only in (True, False):
            assert inbox.search_text(needle, body_only=body_only) == _scan(mailbox, needle, body_only), needle
    if answered_by != "words":
        assert {"the", "of", "and"} <= textbits.common(inbox._index.conn, inbox.id)
        assert "zebra" not in textbits.common(inbox._index.conn, inbox.id)
