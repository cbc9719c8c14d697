"""Full-text search: an SQLite FTS5 table in the mailbox's index, filled at delivery.

Each message gets one row (rowid ``folder_id << 32 | uid``) with two columns:
``head`` (the header block as written, plus its RFC 2047 words decoded) and ``body``
(every text part decoded from its transfer encoding and charset; HTML parts as the
text a reader sees). The text is stored case-folded (``str.casefold``) and the table
uses the ``trigram`` tokenizer with ``case_sensitive 1`` and ``detail=none``: a search
is ``GLOB '*needle*'`` on the case-folded needle, which FTS5 answers from the trigram
index (needles of 3 characters or more) and then confirms against the stored text.
So a hit is exactly "the case-folded needle is a substring of the case-folded text",
IMAP's SEARCH semantics, with no tokenisation difference to correct.

Each message keeps at most ``MAX_HEAD`` + ``MAX_BODY`` characters. A message with more
text is listed in ``fulltext_long`` and searched by reading its file, so results stay
complete. Rows leave with their message (a trigger on ``messages``).

Messages stored before the table existed (an index made by older code) are indexed
lazily: a search first indexes up to ``LAZY_BATCH`` of a folder's missing messages and
reads the remaining ones from their files; ``manage.py reindex`` indexes them all.
"""

from __future__ import annotations

import json
import sqlite3
from html.parser import HTMLParser
from typing import Any

from . import mime, mimetree

MAX_HEAD = 16 * 1024  # characters of header text indexed per message
MAX_BODY = 64 * 1024  # characters of body text indexed per message
MAX_HTML = 512 * 1024  # characters of one HTML part given to the HTML parser
LAZY_BATCH = 500  # old messages indexed by one search

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS fulltext USING fts5(
    head, body, tokenize = 'trigram case_sensitive 1', detail = none
);
CREATE TABLE IF NOT EXISTS fulltext_long (
    folder_id INTEGER NOT NULL, uid INTEGER NOT NULL, PRIMARY KEY (folder_id, uid)
);
CREATE TABLE IF NOT EXISTS fulltext_done (folder_id INTEGER PRIMARY KEY, uidvalidity INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS messages_fulltext_del AFTER DELETE ON messages BEGIN
    DELETE FROM fulltext WHERE rowid = (OLD.folder_id << 32) | OLD.uid;
    DELETE FROM fulltext_long WHERE folder_id = OLD.folder_id AND uid = OLD.uid;
END;
"""


def rowid(folder_id: int, uid: int) -> int:
    return (folder_id << 32) | uid


class _HtmlText(HTMLParser):
    """The text of an HTML document as a reader sees it: no tags, no script or style, entities decoded."""

    SKIP = frozenset({"script", "style", "head", "title"})
    BREAK = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BREAK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(data)


def html_text(source: str) -> str:
    """Readable text of an HTML part (the first ``MAX_HTML`` characters of it)."""
    parser = _HtmlText()
    try:
        parser.feed(source[:MAX_HTML])
        parser.close()
    except Exception:  # HTMLParser is lenient; never let a malformed part stop a delivery
        pass
    return "".join(parser.out)


def extract(raw: bytes) -> tuple[str, str]:
    """(header text, body text) of a message as indexed, uncapped and not yet case-folded.

    The part tree is the store's capped one (``mimetree``): a MIME bomb costs one bounded pass.
    """
    root = mimetree.parse(raw)
    header_block = raw[: root.body].decode("utf-8", "replace")
    head = header_block + "\n" + mime.decoded(header_block) if "=?" in header_block else header_block
    chunks: list[str] = []
    for part in mimetree.walk(root):
        if part.kind == "leaf" and part.maintype == "text":
            text = mime._decode_leaf(raw, part)
            chunks.append(html_text(text) if part.subtype == "html" else text)
    return head, "\n".join(chunks)


def add(conn: sqlite3.Connection, folder_id: int, uid: int, raw: bytes) -> None:
    """Index one message (inside the caller's write transaction). Never fails on what the message holds."""
    try:
        head, body = extract(raw)
    except Exception:  # a parser bug must not refuse a delivery: index the bytes as written
        head, body = "", raw[: MAX_BODY * 4].decode("utf-8", "replace")
    key = rowid(folder_id, uid)
    conn.execute("DELETE FROM fulltext WHERE rowid = ?", (key,))  # a stale row of a reused folder id
    conn.execute(
        "INSERT INTO fulltext (rowid, head, body) VALUES (?, ?, ?)",
        (key, head[:MAX_HEAD].casefold(), body[:MAX_BODY].casefold()),
    )
    if len(head) > MAX_HEAD or len(body) > MAX_BODY:
        conn.execute("INSERT OR IGNORE INTO fulltext_long VALUES (?, ?)", (folder_id, uid))
    else:
        conn.execute("DELETE FROM fulltext_long WHERE folder_id = ? AND uid = ?", (folder_id, uid))


def copy(conn: sqlite3.Connection, source: tuple[int, int], dest: tuple[int, int]) -> bool:
    """Give a copied message its source's row; False when the source was not indexed."""
    row = conn.execute("SELECT head, body FROM fulltext WHERE rowid = ?", (rowid(*source),)).fetchone()
    if row is None:
        return False
    conn.execute("INSERT INTO fulltext (rowid, head, body) VALUES (?, ?, ?)", (rowid(*dest), row[0], row[1]))
    conn.execute(
        "INSERT OR IGNORE INTO fulltext_long SELECT ?, ? FROM fulltext_long WHERE folder_id = ? AND uid = ?",
        (dest[0], dest[1], source[0], source[1]),
    )
    return True


def mark_incomplete(conn: sqlite3.Connection, folder_id: int) -> None:
    conn.execute("DELETE FROM fulltext_done WHERE folder_id = ?", (folder_id,))


def is_complete(conn: sqlite3.Connection, folder_id: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM fulltext_done d JOIN folders f ON f.id = d.folder_id AND f.uidvalidity = d.uidvalidity"
        " WHERE d.folder_id = ?",
        (folder_id,),
    ).fetchone()
    return row is not None


def missing(conn: sqlite3.Connection, folder_id: int, limit: int | None = None) -> list[int]:
    """UIDs of the folder's messages that have no row yet, ascending."""
    query = (
        "SELECT m.uid FROM messages m WHERE m.folder_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM fulltext_content c WHERE c.id = (m.folder_id << 32) | m.uid) ORDER BY m.uid"
    )
    params: list[int] = [folder_id]
    if limit is not None:
        query += " LIMIT ?"
        params.append(limit)
    return [r[0] for r in conn.execute(query, params)]


def mark_complete(conn: sqlite3.Connection, folder_id: int) -> None:
    conn.execute("INSERT OR REPLACE INTO fulltext_done SELECT id, uidvalidity FROM folders WHERE id = ?", (folder_id,))


def glob_pattern(needle: str) -> str:
    """``*needle*`` for GLOB with the needle's metacharacters taken literally."""
    escaped = "".join(f"[{c}]" if c in "*?[" else c for c in needle)
    return f"*{escaped}*"


def matching(conn: sqlite3.Connection, folder_id: int, needle: str, *, body_only: bool) -> set[int]:
    """UIDs whose indexed text contains ``needle`` (already case-folded)."""
    low, high = rowid(folder_id, 0), rowid(folder_id, 0xFFFFFFFF)
    found: set[int] = set()
    if len(needle) < 3:  # no trigram to look up: scan the stored text (SQLite 3.40 mis-answers such GLOBs)
        where = "instr(c1, ?) > 0" if body_only else "(instr(c1, ?) > 0 OR instr(c0, ?) > 0)"
        rows = conn.execute(
            f"SELECT id FROM fulltext_content WHERE id BETWEEN ? AND ? AND {where}",
            (low, high, needle) if body_only else (low, high, needle, needle),
        )
        return {r[0] & 0xFFFFFFFF for r in rows}
    pattern = glob_pattern(needle)
    for column in ("body",) if body_only else ("head", "body"):
        rows = conn.execute(
            f"SELECT rowid FROM fulltext WHERE {column} GLOB ? AND rowid BETWEEN ? AND ?", (pattern, low, high)
        )
        found.update(r[0] & 0xFFFFFFFF for r in rows)
    return found


def long_uids(conn: sqlite3.Connection, folder_id: int) -> list[int]:
    return [r[0] for r in conn.execute("SELECT uid FROM fulltext_long WHERE folder_id = ?", (folder_id,))]


def text_contains(raw: bytes, needle: str, *, body_only: bool) -> bool:
    """The uncapped check for one message read from its file (``needle`` case-folded)."""
    head, body = extract(raw)
    return needle in body.casefold() or (not body_only and needle in head.casefold())


def catch_up(folder: Any, limit: int | None) -> list[int]:
    """Index up to ``limit`` (None: all) of ``folder``'s messages that have no row; returns the UIDs still missing.

    Reads files outside the write lock, then writes one transaction per 200 messages.
    """
    index = folder._index
    if is_complete(index.conn, folder.id):
        return []
    todo = missing(index.conn, folder.id)
    chosen, rest = (todo, []) if limit is None else (todo[:limit], todo[limit:])
    for start in range(0, len(chosen), 200):
        batch = []
        for uid in chosen[start : start + 200]:
            try:
                batch.append((uid, folder.read(uid)))
            except KeyError:  # MessageGone: expunged meanwhile
                continue
        with index.write() as conn:  # still there and still without a row (another process may have done it)
            wanted = {
                r[0]
                for r in conn.execute(
                    "SELECT m.uid FROM messages m WHERE m.folder_id = ? AND m.uid IN (SELECT value FROM json_each(?))"
                    " AND NOT EXISTS (SELECT 1 FROM fulltext_content c WHERE c.id = (m.folder_id << 32) | m.uid)",
                    (folder.id, json.dumps([uid for uid, _ in batch])),
                )
            }
            for uid, raw in batch:
                if uid in wanted:
                    add(conn, folder.id, uid, raw)
    if not rest:
        with index.write() as conn:
            if not missing(conn, folder.id, 1):
                mark_complete(conn, folder.id)
    return rest


def rebuild(folder: Any) -> int:
    """Drop ``folder``'s rows and index every message again (``manage.py reindex``); returns the count indexed."""
    low, high = rowid(folder.id, 0), rowid(folder.id, 0xFFFFFFFF)
    with folder._index.write() as conn:
        conn.execute("DELETE FROM fulltext WHERE rowid BETWEEN ? AND ?", (low, high))
        conn.execute("DELETE FROM fulltext_long WHERE folder_id = ?", (folder.id,))
        mark_incomplete(conn, folder.id)
    catch_up(folder, None)
    return int(
        folder._index.conn.execute(
            "SELECT count(*) FROM fulltext_content WHERE id BETWEEN ? AND ?", (low, high)
        ).fetchone()[0]
    )


def search(folder: Any, text: str, *, body_only: bool, lazy: int = LAZY_BATCH) -> list[int]:
    """UIDs of ``folder`` whose text (BODY: body only) contains ``text``, case-insensitively; ascending.

    Answered from the index; messages whose text passed the cap, and old messages not
    indexed yet (beyond ``lazy`` per call), are read from their files.
    """
    needle = text.casefold()
    if not needle:
        return folder.uids()
    unindexed = catch_up(folder, lazy)
    conn = folder._index.conn
    found = matching(conn, folder.id, needle, body_only=body_only)
    for uid in [*long_uids(conn, folder.id), *unindexed]:
        if uid in found:
            continue
        try:
            raw = folder.read(uid)
        except KeyError:
            continue
        if text_contains(raw, needle, body_only=body_only):
            found.add(uid)
    present = set(folder.uids()) if unindexed else None
    return sorted(found if present is None else found & present)
