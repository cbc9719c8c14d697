"""Full-text search: the message text and an SQLite FTS5 word index in the mailbox's index.

Each message gets one row of ``fulltext_text`` (id ``folder_id << 32 | uid``): ``head`` (the
header block as written, plus its RFC 2047 words decoded) and ``body`` (every text part decoded
from its transfer encoding and charset; HTML parts as the text a reader sees), case-folded
(``str.casefold``). ``fulltext_words`` indexes that text by term (FTS5, external content,
``ascii`` tokenizer: a term is a maximal run of ASCII letters, digits and non-ASCII characters,
``TOKEN`` here), and ``fulltext_terms`` lists every indexed term, with a trigram index.

A search is "the case-folded needle is a substring of the case-folded text", IMAP's SEARCH
semantics. A needle of token characters only is inside one term of any text holding it, so it
is answered from the word index alone: the rows holding any term that contains the needle.
Other needles (phrases, punctuation) take the rows holding a term for each of their runs of
token characters and are checked against the stored text.

A delivery stores the text and marks the row pending (``fulltext_pending``); a search puts
its folder's pending texts into the word index many at once (``index_pending``) and checks
those beyond its share in their text, so results stay complete.

Each message keeps at most ``MAX_HEAD`` + ``MAX_BODY`` characters. A message with more
text is listed in ``fulltext_long`` and searched by reading its file. Rows leave with their
message (a trigger on ``messages``).

Messages stored before the table existed (an index made by older code) are indexed
lazily: a search first stores up to ``LAZY_BATCH`` of a folder's missing texts and
reads the remaining ones from their files; ``manage.py reindex`` indexes them all.
"""

from __future__ import annotations

import json
import sqlite3
from html.parser import HTMLParser
from typing import Any

from pyroaring import BitMap

from . import mime, mimetree, textbits
from .textbits import TOKEN

MAX_HEAD = 16 * 1024  # characters of header text indexed per message
MAX_BODY = 64 * 1024  # characters of body text indexed per message
MAX_HTML = 512 * 1024  # characters of one HTML part given to the HTML parser
LAZY_BATCH = 500  # old messages indexed by one search
WORDS_BATCH = 5000  # stored texts put into the word index by one search

TERMS_PER_QUERY = 64  # term prefixes OR-ed in one FTS5 query (its OR merge costs prefixes x hits)
MAX_BIT_TERMS = 50_000  # a needle inside more terms than this is answered by the word index or a scan
MAX_TERMS = 4096  # a needle inside more vocabulary terms than this is answered by a scan of the text
# FTS5 keeps (and looks up) only the first 32 KiB of a longer term: a needle reaching past them is checked in the text
MAX_TOKEN_BYTES = 32768
FOLD = 0xFFFFFFFF


SCHEMA = """
CREATE TABLE IF NOT EXISTS fulltext_text (id INTEGER PRIMARY KEY, head TEXT NOT NULL, body TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS fulltext_words USING fts5(
    head, body, content = 'fulltext_text', content_rowid = 'id', tokenize = 'ascii', detail = column
);
CREATE TABLE IF NOT EXISTS fulltext_terms (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE);
CREATE VIRTUAL TABLE IF NOT EXISTS fulltext_terms_tri USING fts5(
    term, content = 'fulltext_terms', content_rowid = 'id', tokenize = 'trigram case_sensitive 1', detail = none
);
CREATE TRIGGER IF NOT EXISTS fulltext_terms_ins AFTER INSERT ON fulltext_terms BEGIN
    INSERT INTO fulltext_terms_tri (rowid, term) VALUES (NEW.id, NEW.term);
END;
CREATE TABLE IF NOT EXISTS fulltext_long (
    folder_id INTEGER NOT NULL, uid INTEGER NOT NULL, PRIMARY KEY (folder_id, uid)
);
CREATE TABLE IF NOT EXISTS fulltext_done (folder_id INTEGER PRIMARY KEY, uidvalidity INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fulltext_pending (id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS fulltext_bits (id INTEGER PRIMARY KEY, head BLOB, body BLOB);
CREATE TABLE IF NOT EXISTS fulltext_bitstate (
    folder_id INTEGER PRIMARY KEY, uidvalidity INTEGER NOT NULL, upto INTEGER NOT NULL, gen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fulltext_chars (id INTEGER PRIMARY KEY, head BLOB, body BLOB);
CREATE TABLE IF NOT EXISTS fulltext_gone (id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS fulltext_common (id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS fulltext_pairs (id INTEGER PRIMARY KEY, pair TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS fulltext_pairbits (id INTEGER PRIMARY KEY, head BLOB, body BLOB);
CREATE TRIGGER IF NOT EXISTS messages_fulltext_bits_gone AFTER DELETE ON messages
    WHEN EXISTS (SELECT 1 FROM fulltext_bitstate s WHERE s.folder_id = OLD.folder_id AND s.upto >= OLD.uid) BEGIN
    INSERT OR IGNORE INTO fulltext_gone (id) VALUES ((OLD.folder_id << 32) | OLD.uid);
END;
CREATE TRIGGER IF NOT EXISTS folders_fulltext_bits_gone AFTER DELETE ON folders BEGIN
    DELETE FROM fulltext_bits WHERE id BETWEEN OLD.id << 32 AND (OLD.id << 32) | 4294967295;
    DELETE FROM fulltext_chars WHERE id BETWEEN OLD.id << 32 AND (OLD.id << 32) | 4294967295;
    DELETE FROM fulltext_pairbits WHERE id BETWEEN OLD.id << 32 AND (OLD.id << 32) | 4294967295;
    DELETE FROM fulltext_common WHERE id BETWEEN OLD.id << 32 AND (OLD.id << 32) | 4294967295;
    DELETE FROM fulltext_gone WHERE id BETWEEN OLD.id << 32 AND (OLD.id << 32) | 4294967295;
    DELETE FROM fulltext_bitstate WHERE folder_id = OLD.id;
END;
CREATE TRIGGER IF NOT EXISTS messages_fulltext_gone AFTER DELETE ON messages BEGIN
    INSERT INTO fulltext_words (fulltext_words, rowid, head, body)
        SELECT 'delete', id, head, body FROM fulltext_text WHERE id = (OLD.folder_id << 32) | OLD.uid
        AND NOT EXISTS (SELECT 1 FROM fulltext_pending p WHERE p.id = (OLD.folder_id << 32) | OLD.uid);
    DELETE FROM fulltext_pending WHERE id = (OLD.folder_id << 32) | OLD.uid;
    DELETE FROM fulltext_text WHERE id = (OLD.folder_id << 32) | OLD.uid;
    DELETE FROM fulltext_long WHERE folder_id = OLD.folder_id AND uid = OLD.uid;
END;
"""


def upgrade(conn: sqlite3.Connection) -> None:
    """Move an index of schema 5 (one trigram table holding the text) to this layout, inside the caller's
    write transaction, before ``SCHEMA`` runs: the text is kept, the word index is built from it in SQLite.
    """
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'fulltext' AND type = 'table'").fetchone():
        return
    conn.execute("DROP TRIGGER IF EXISTS messages_fulltext_del")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS fulltext_text (id INTEGER PRIMARY KEY, head TEXT NOT NULL, body TEXT NOT NULL)"
    )
    conn.execute(
        "INSERT OR REPLACE INTO fulltext_text (id, head, body)"
        " SELECT id, coalesce(c0, ''), coalesce(c1, '') FROM fulltext_content"
    )
    conn.execute("DROP TABLE fulltext")


def finish_upgrade(conn: sqlite3.Connection) -> None:
    """After ``SCHEMA`` ran on an upgraded index: index the kept text by word and list its terms."""
    if (
        conn.execute("SELECT 1 FROM fulltext_text LIMIT 1").fetchone()
        and not conn.execute("SELECT 1 FROM fulltext_terms LIMIT 1").fetchone()
    ):
        refresh_words(conn)


def refresh_words(conn: sqlite3.Connection) -> None:
    """Rebuild the word index from all the stored text (nothing is pending after) and list every indexed term."""
    conn.execute("INSERT INTO fulltext_words (fulltext_words) VALUES ('rebuild')")
    conn.execute("DELETE FROM fulltext_pending")
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fulltext_vocab USING fts5vocab(main, fulltext_words, row)")
    conn.execute("INSERT OR IGNORE INTO fulltext_terms (term) SELECT term FROM temp.fulltext_vocab")


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


def extract(raw: bytes, root: mimetree.Part | None = None) -> tuple[str, str]:
    """(header text, body text) of a message as indexed, uncapped and not yet case-folded.

    The part tree is the store's capped one (``mimetree``): a MIME bomb costs one bounded pass
    (``root``: that tree, when the caller has it already).
    """
    if root is None:
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
    """Store one message's text (inside the caller's write transaction). Never fails on what the message holds.

    The word index and the term list take the text later, many messages at once
    (``index_pending``): that costs a delivery only the text extraction and one row.
    """
    try:
        head, body = extract(raw)
    except Exception:  # a parser bug must not refuse a delivery: index the bytes as written
        head, body = "", raw[: MAX_BODY * 4].decode("utf-8", "replace")
    key = rowid(folder_id, uid)
    _remove(conn, key, key)  # a stale row of a reused folder id
    conn.execute(
        "INSERT INTO fulltext_text (id, head, body) VALUES (?, ?, ?)",
        (key, head[:MAX_HEAD].casefold(), body[:MAX_BODY].casefold()),
    )
    conn.execute("INSERT INTO fulltext_pending (id) VALUES (?)", (key,))
    textbits.below(conn, folder_id, uid)
    if len(head) > MAX_HEAD or len(body) > MAX_BODY:
        conn.execute("INSERT OR IGNORE INTO fulltext_long VALUES (?, ?)", (folder_id, uid))
    else:
        conn.execute("DELETE FROM fulltext_long WHERE folder_id = ? AND uid = ?", (folder_id, uid))


def add_many(conn: sqlite3.Connection, folder_id: int,
             messages: list[tuple[int, bytes, mimetree.Part | None]]) -> None:
    """:func:`add` for several messages of one folder with consecutive UIDs (a delivery batch), with
    statements shared by all of them; each ``(uid, raw, part tree or None)``."""
    if not messages:
        return
    low, high = rowid(folder_id, messages[0][0]), rowid(folder_id, messages[-1][0])
    assert high - low == len(messages) - 1, "consecutive UIDs"
    rows, long = [], []
    for uid, raw, root in messages:
        try:
            head, body = extract(raw, root)
        except Exception:  # a parser bug must not refuse a delivery: index the bytes as written
            head, body = "", raw[: MAX_BODY * 4].decode("utf-8", "replace")
        rows.append((rowid(folder_id, uid), head[:MAX_HEAD].casefold(), body[:MAX_BODY].casefold()))
        if len(head) > MAX_HEAD or len(body) > MAX_BODY:
            long.append((folder_id, uid))
    # New UIDs have nothing to forget, unless the folder id is reused or bitmaps reach this far:
    # one look, where forgetting unconditionally cost five statements a batch.
    stale = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM fulltext_text WHERE id BETWEEN ?1 AND ?2)"
        " OR EXISTS (SELECT 1 FROM fulltext_pending WHERE id BETWEEN ?1 AND ?2)"
        " OR EXISTS (SELECT 1 FROM fulltext_long WHERE folder_id = ?3 AND uid BETWEEN ?4 AND ?5)"
        " OR EXISTS (SELECT 1 FROM fulltext_bitstate WHERE folder_id = ?3 AND upto >= ?4)",
        (low, high, folder_id, messages[0][0], messages[-1][0])).fetchone()[0]  # fmt: skip
    if stale:
        _remove(conn, low, high)
        textbits.below(conn, folder_id, messages[0][0])
        conn.execute("DELETE FROM fulltext_long WHERE folder_id = ? AND uid BETWEEN ? AND ?",
                     (folder_id, messages[0][0], messages[-1][0]))
    conn.executemany("INSERT INTO fulltext_text (id, head, body) VALUES (?, ?, ?)", rows)
    conn.executemany("INSERT INTO fulltext_pending (id) VALUES (?)", [(row[0],) for row in rows])
    if long:
        conn.executemany("INSERT OR IGNORE INTO fulltext_long VALUES (?, ?)", long)


def _remove(conn: sqlite3.Connection, low: int, high: int) -> None:
    """Drop the rows ``low``..``high`` from the text and the word index (which needs the old text to forget it)."""
    conn.execute(
        "INSERT INTO fulltext_words (fulltext_words, rowid, head, body)"
        " SELECT 'delete', id, head, body FROM fulltext_text t WHERE id BETWEEN ? AND ?"
        " AND NOT EXISTS (SELECT 1 FROM fulltext_pending p WHERE p.id = t.id)",
        (low, high),
    )
    conn.execute("DELETE FROM fulltext_pending WHERE id BETWEEN ? AND ?", (low, high))
    conn.execute("DELETE FROM fulltext_text WHERE id BETWEEN ? AND ?", (low, high))


def copy(conn: sqlite3.Connection, source: tuple[int, int], dest: tuple[int, int]) -> bool:
    """Give a copied message its source's text; False when the source was not indexed."""
    row = conn.execute("SELECT head, body FROM fulltext_text WHERE id = ?", (rowid(*source),)).fetchone()
    if row is None:
        return False
    key = rowid(*dest)
    _remove(conn, key, key)
    conn.execute("INSERT INTO fulltext_text (id, head, body) VALUES (?, ?, ?)", (key, row[0], row[1]))
    conn.execute("INSERT INTO fulltext_pending (id) VALUES (?)", (key,))
    textbits.below(conn, dest[0], dest[1])
    conn.execute(
        "INSERT OR IGNORE INTO fulltext_long SELECT ?, ? FROM fulltext_long WHERE folder_id = ? AND uid = ?",
        (dest[0], dest[1], source[0], source[1]),
    )
    return True


def index_pending(index: Any, folder_id: int, limit: int) -> bool:
    """Put up to ``limit`` of the folder's stored-but-pending texts into the word index and their terms into the
    term list, in one transaction; True when some are still pending after."""
    low, high = rowid(folder_id, 0), rowid(folder_id, FOLD)
    if not index.conn.execute(
        "SELECT 1 FROM fulltext_pending WHERE id BETWEEN ? AND ? LIMIT 1", (low, high)
    ).fetchone():
        return False
    with index.write() as conn:
        rows = conn.execute(
            "SELECT t.id, t.head, t.body FROM fulltext_pending p JOIN fulltext_text t ON t.id = p.id"
            " WHERE p.id BETWEEN ? AND ? ORDER BY p.id LIMIT ?",
            (low, high, limit),
        ).fetchall()
        if not rows:
            conn.execute("DELETE FROM fulltext_pending WHERE id BETWEEN ? AND ?", (low, high))  # no text: nothing to do
            return False
        conn.executemany("INSERT INTO fulltext_words (rowid, head, body) VALUES (?, ?, ?)", rows)
        terms: set[str] = set()
        for _id, head, body in rows:
            terms.update(TOKEN.findall(head))
            terms.update(TOKEN.findall(body))
        conn.execute(
            "INSERT OR IGNORE INTO fulltext_terms (term) SELECT value FROM json_each(?)",
            (json.dumps(list(terms), ensure_ascii=False),),
        )
        conn.execute("DELETE FROM fulltext_pending WHERE id BETWEEN ? AND ?", (low, rows[-1][0]))
        return len(rows) == limit and bool(
            conn.execute("SELECT 1 FROM fulltext_pending WHERE id BETWEEN ? AND ? LIMIT 1", (low, high)).fetchone()
        )


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
        " (SELECT 1 FROM fulltext_text c WHERE c.id = (m.folder_id << 32) | m.uid) ORDER BY m.uid"
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


def terms_containing(conn: sqlite3.Connection, run: str) -> list[str] | None:
    """Prefixes covering the mailbox's indexed terms that contain ``run`` (token characters only); None when more
    than ``MAX_TERMS`` terms do.

    Terms of three characters or more are looked up in the term list's trigram index. Each
    term is cut just after the first place it holds ``run``, and a cut that starts with a
    shorter one is dropped: every term beginning with a prefix contains ``run``, and FTS5 merges
    a prefix's terms far more cheaply than an OR of them (``other``, ``others``, ``otherwise``
    are ``othe*`` for ``the``).
    """
    if len(run) >= 3:
        rows = conn.execute(
            "SELECT term FROM fulltext_terms_tri WHERE term GLOB ? LIMIT ?", (glob_pattern(run), MAX_TERMS + 1)
        )
    else:
        rows = conn.execute("SELECT term FROM fulltext_terms WHERE instr(term, ?) > 0 LIMIT ?", (run, MAX_TERMS + 1))
    terms = [r[0] for r in rows]
    if len(terms) > MAX_TERMS:
        return None
    prefixes: list[str] = []
    for cut in sorted({term[: term.find(run) + len(run)] for term in terms}):
        if not prefixes or not cut.startswith(prefixes[-1]):
            prefixes.append(cut)
    return prefixes


def _any_of(prefixes: list[str], body_only: bool) -> str:
    """An FTS5 query matching a row holding a term that begins with any of ``prefixes`` (in its body only, with
    ``body_only``)."""
    expr = " OR ".join(f'"{p}"*' for p in prefixes)  # a prefix is token characters only: no quote inside
    return f"body : ({expr})" if body_only else f"({expr})"


def _uid_list(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[int]:
    """UIDs from a query whose one column is named ``u``, ascending; built by SQLite as one JSON array
    (a Python row per hit costs more than the search itself when a word is in every message)."""
    row = conn.execute(f"SELECT json_group_array(u) FROM ({sql})", params).fetchone()
    return json.loads(row[0]) if row and row[0] else []


def matching(
    conn: sqlite3.Connection, folder_id: int, needle: str, *, body_only: bool, scope: tuple[Any, ...] = ()
) -> list[int]:
    """UIDs whose indexed text contains ``needle`` (already case-folded), ascending.

    The folder's posting bitmaps (``textbits``) answer for the UIDs they cover, the FTS5 word
    index for the rest (all of a folder whose bitmaps are not built yet). ``scope`` names the
    index file (path, inode) for the answers this process keeps of costly needles.
    """
    bits = textbits.state(conn, folder_id)
    found = None
    if bits is not None:
        done, generation = bits
        key = (*scope, folder_id, generation, needle, body_only) if scope else None
        found = _bits_matching(conn, folder_id, done, needle, body_only, key)
    if found is None or bits is None:
        return _word_matching(conn, folder_id, needle, body_only=body_only)
    past = (rowid(folder_id, done + 1), rowid(folder_id, FOLD))
    if conn.execute("SELECT 1 FROM fulltext_text WHERE id BETWEEN ? AND ? LIMIT 1", past).fetchone():
        found.update(_word_matching(conn, folder_id, needle, body_only=body_only, first=done + 1))
    return found.to_array().tolist()  # type: ignore[no-any-return]


def _terms(conn: sqlite3.Connection, run: str, *, starts: bool, ends: bool) -> list[tuple[int, str]] | None:
    """(id, term) of the indexed terms that contain ``run`` (token characters), begin with it (``starts``), end
    with it (``ends``), or are it (both); None when more than ``MAX_BIT_TERMS`` do."""
    if starts and ends:
        rows = conn.execute("SELECT id, term FROM fulltext_terms WHERE term = ?", (run,))
    elif starts:
        rows = conn.execute("SELECT id, term FROM fulltext_terms WHERE term GLOB ?", (glob_pattern(run)[1:],))
    elif len(run) >= 3:
        pattern = glob_pattern(run)[:-1] if ends else glob_pattern(run)
        rows = conn.execute(
            "SELECT rowid, term FROM fulltext_terms_tri WHERE term GLOB ? LIMIT ?", (pattern, MAX_BIT_TERMS + 1)
        )
    else:
        test = "substr(term, -length(?1)) = ?1" if ends else "instr(term, ?1) > 0"
        rows = conn.execute(f"SELECT id, term FROM fulltext_terms WHERE {test} LIMIT ?2", (run, MAX_BIT_TERMS + 1))
    found = rows.fetchall()
    return None if len(found) > MAX_BIT_TERMS else found


def _pair_rows(
    conn: sqlite3.Connection,
    folder_id: int,
    runs: tuple[str, str, str],
    terms: tuple[list[tuple[int, str]], list[tuple[int, str]]],
    free: tuple[bool, bool],
    body_only: bool,
) -> tuple[Any, Any]:
    """For two neighbouring runs of a needle (left run, separator, right run) and the terms fitting each:
    (rows that surely hold "left separator right", other rows that may), from the pair keys.

    ``free``: the left run may be any end of a term (it starts the needle), the right run any
    beginning of one (it ends the needle). Two common terms have an exact key; a common term
    and a rare one a key of the common term and the rare one's first (last) character, exact
    when the run is that one character, else narrowed by the rare terms' rows; two rare terms
    only their rows.
    """
    left, sep, right = runs
    common = textbits.common(conn, folder_id)
    left_common = [t for _i, t in terms[0] if t in common]
    right_common = [t for _i, t in terms[1] if t in common]
    left_rare = [i for i, t in terms[0] if t not in common]
    right_rare = [i for i, t in terms[1] if t not in common]
    keys = [textbits.pair_key("t", a, sep, b) for a in left_common for b in right_common]
    right_any = len(right) == 1 and free[1]  # any term beginning with that character fits
    left_any = len(left) == 1 and free[0]
    if right_any:
        keys += [textbits.pair_key("r", a, sep, right) for a in left_common]
    if left_any:
        keys += [textbits.pair_key("l", left, sep, b) for b in right_common]
    sure = textbits.pair_union(conn, folder_id, keys, body_only)
    maybe = BitMap()
    rows_left_rare = textbits.union(conn, "fulltext_bits", folder_id, left_rare, body_only) if left_rare else None
    rows_right_rare = textbits.union(conn, "fulltext_bits", folder_id, right_rare, body_only) if right_rare else None
    if rows_right_rare and left_common and not right_any:
        keys = [textbits.pair_key("r", a, sep, right[0]) for a in left_common]
        maybe |= textbits.pair_union(conn, folder_id, keys, body_only) & rows_right_rare
    if rows_left_rare and right_common and not left_any:
        keys = [textbits.pair_key("l", left[-1], sep, b) for b in right_common]
        maybe |= textbits.pair_union(conn, folder_id, keys, body_only) & rows_left_rare
    if rows_left_rare and rows_right_rare:
        maybe |= rows_left_rare & rows_right_rare
    return sure, maybe - sure


def _bits_matching(
    conn: sqlite3.Connection, folder_id: int, done: int, needle: str, body_only: bool, key: tuple[Any, ...] | None
) -> Any:
    """The UIDs up to ``done`` holding ``needle``, from the posting bitmaps (a ``BitMap``); None when the
    needle is inside too many terms for them.

    One character: its bitmap. A word or part of one: the union of the bitmaps of the terms
    holding it. Anything else: the rows that hold, for each run of token characters, a term
    fitting it (the first run ends a term, the last begins one, those between are whole terms),
    and each other character of the needle, checked against the stored text. That check is the
    costly part (a few µs a candidate), so its answer is kept (``textbits.remember``) and a
    repeated search checks only the rows folded since, less those expunged.
    """
    if len(needle) == 1:
        return textbits.union(conn, "fulltext_chars", folder_id, [ord(needle)], body_only)
    spans = [m.span() for m in TOKEN.finditer(needle)]
    if len(spans) == 1 and spans[0] == (0, len(needle)):
        terms = _terms(conn, needle, starts=False, ends=False)
        ids = None if terms is None else [i for i, _t in terms]
        return None if ids is None else textbits.union(conn, "fulltext_bits", folder_id, ids, body_only)
    kept = textbits.remembered(key) if key else None
    if kept is not None and kept[0] == done:  # asked again with nothing folded since
        return textbits.without_gone(conn, folder_id, kept[1])
    candidates = None
    fitting = []
    for begin, end in spans:
        terms = _terms(conn, needle[begin:end], starts=begin > 0, ends=end < len(needle))
        fitting.append(terms)
        if terms is None:
            continue  # too common to narrow the candidates much: the text check decides
        part = textbits.union(conn, "fulltext_bits", folder_id, [i for i, _t in terms], body_only)
        candidates = part if candidates is None else candidates & part
        if not candidates:
            return candidates
    for char in {c for c in needle if not TOKEN.match(c)}:
        part = textbits.union(conn, "fulltext_chars", folder_id, [ord(char)], body_only)
        candidates = part if candidates is None else candidates & part
        if not candidates:
            return candidates
    assert candidates is not None  # a needle of 2+ characters has a run or a separator
    sure = BitMap()
    for n in range(len(spans) - 1):
        sep = needle[spans[n][1] : spans[n + 1][0]]
        left, right = fitting[n], fitting[n + 1]
        if left is None or right is None or not textbits.pairable(sep):
            continue
        runs = (needle[slice(*spans[n])], sep, needle[slice(*spans[n + 1])])
        free = (spans[n][0] == 0, spans[n + 1][1] == len(needle))
        exact, maybe = _pair_rows(conn, folder_id, runs, (left, right), free, body_only)
        candidates &= exact | maybe
        if len(spans) == 2 and all(free):  # the needle is these two runs and their separator
            sure = exact & candidates
        if not candidates:
            return candidates
    first, known = (0, BitMap()) if kept is None or kept[0] > done else kept
    if first:
        known = textbits.without_gone(conn, folder_id, known)
        window = BitMap(range(first + 1, done + 1))
        candidates &= window
        sure &= window
    found = known | sure | _checked(conn, folder_id, candidates - sure, (first, done), needle, body_only)
    if key:
        textbits.remember(key, done, found)
    return found


def _checked(
    conn: sqlite3.Connection, folder_id: int, candidates: Any, span: tuple[int, int], needle: str, body_only: bool
) -> Any:
    """The candidates (UIDs after ``span[0]``, up to ``span[1]``) whose stored text holds ``needle``."""
    if not candidates:
        return candidates
    where = "instr(body, ?3) > 0" if body_only else "(instr(body, ?3) > 0 OR instr(head, ?3) > 0)"
    low = rowid(folder_id, 0)
    if len(candidates) * 2 > span[1] - span[0]:  # most rows: one pass over the text, then keep the candidates
        checked = _uid_list(
            conn,
            f"SELECT id & 4294967295 AS u FROM fulltext_text WHERE id BETWEEN ?1 AND ?2 AND {where}",
            (low | (span[0] + 1), low | span[1], needle),
        )
        return candidates & BitMap(checked)
    return BitMap(_uid_list(
        conn, f"SELECT id & 4294967295 AS u FROM fulltext_text WHERE id IN (SELECT ?1 | value FROM json_each(?2))"
        f" AND {where}", (low, json.dumps(candidates.to_array().tolist()), needle),
    ))  # fmt: skip


def _word_matching(
    conn: sqlite3.Connection, folder_id: int, needle: str, *, body_only: bool, first: int = 0
) -> list[int]:
    """UIDs from ``first`` on whose indexed text contains ``needle`` (already case-folded), ascending, from the
    FTS5 word index.

    A needle made of token characters only (a word, or part of one) is in a text exactly when
    it is inside one of the text's terms: the answer is the rows holding any term containing
    it, from the word index alone. Any other needle (several words, punctuation) takes the
    rows holding a term for each of its runs of token characters, and checks the text.
    """
    low, high = rowid(folder_id, first), rowid(folder_id, FOLD)
    runs = TOKEN.findall(needle)
    if len(runs) == 1 and runs[0] == needle:
        terms = terms_containing(conn, needle)
        if terms is not None and not any(len(t.encode()) >= MAX_TOKEN_BYTES for t in terms):
            if not terms:
                return []
            chunks = [terms[i : i + TERMS_PER_QUERY] for i in range(0, len(terms), TERMS_PER_QUERY)]
            found: list[int] | set[int] = []
            for n, chunk in enumerate(chunks):
                uids = _uid_list(
                    conn,
                    "SELECT rowid & 4294967295 AS u FROM fulltext_words WHERE fulltext_words MATCH ?"
                    " AND rowid BETWEEN ? AND ? ORDER BY rowid",
                    (_any_of(chunk, body_only), low, high),
                )
                if n == 0:
                    found = uids
                else:
                    found = set(found)
                    found.update(uids)
            return found if isinstance(found, list) else sorted(found)
    where = "instr(body, ?) > 0" if body_only else "(instr(body, ?) > 0 OR instr(head, ?) > 0)"
    params: tuple[Any, ...] = (needle,) if body_only else (needle, needle)
    parts = []
    for run in runs:
        terms = terms_containing(conn, run)
        if terms is None or len(terms) > TERMS_PER_QUERY:
            continue  # too common to narrow the candidates much: the text check decides
        if not terms:
            return []
        parts.append(_any_of(terms, body_only))
    if parts:
        return _uid_list(
            conn,
            f"SELECT id & 4294967295 AS u FROM fulltext_text WHERE id IN (SELECT rowid FROM fulltext_words"
            f" WHERE fulltext_words MATCH ? AND rowid BETWEEN ? AND ?) AND {where} ORDER BY id",
            (" AND ".join(parts), low, high, *params),
        )
    return _uid_list(
        conn,
        f"SELECT id & 4294967295 AS u FROM fulltext_text WHERE id BETWEEN ? AND ? AND {where} ORDER BY id",
        (low, high, *params),
    )


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
                    " AND NOT EXISTS (SELECT 1 FROM fulltext_text c WHERE c.id = (m.folder_id << 32) | m.uid)",
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
    """Drop ``folder``'s rows and index every message again (``manage.py reindex``); returns the count indexed.

    The text is stored again from the files, then the mailbox's whole word index is rebuilt
    from the stored text: that repairs a damaged word index too (forgetting a row needs its
    exact old text, which a damaged index may not have).
    """
    low, high = rowid(folder.id, 0), rowid(folder.id, FOLD)
    with folder._index.write() as conn:
        conn.execute("DELETE FROM fulltext_text WHERE id BETWEEN ? AND ?", (low, high))
        conn.execute("DELETE FROM fulltext_long WHERE folder_id = ?", (folder.id,))
        mark_incomplete(conn, folder.id)
        textbits.forget(conn, folder.id)
    catch_up(folder, None)
    with folder._index.write() as conn:
        refresh_words(conn)
    return int(
        folder._index.conn.execute(
            "SELECT count(*) FROM fulltext_text WHERE id BETWEEN ? AND ?", (low, high)
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
    pending = index_pending(folder._index, folder.id, WORDS_BATCH)
    if not unindexed:
        textbits.fold(folder._index, folder.id)
    conn = folder._index.conn
    scope = (str(folder._index.path), folder._index.inode)
    found = matching(conn, folder.id, needle, body_only=body_only, scope=scope)
    if pending:  # texts beyond this search's share of indexing: checked in SQLite, still exact
        low, high = rowid(folder.id, 0), rowid(folder.id, FOLD)
        where = "instr(t.body, ?) > 0" if body_only else "(instr(t.body, ?) > 0 OR instr(t.head, ?) > 0)"
        more = _uid_list(
            conn,
            "SELECT t.id & 4294967295 AS u FROM fulltext_pending p JOIN fulltext_text t ON t.id = p.id"
            f" WHERE p.id BETWEEN ? AND ? AND {where}",
            (low, high, needle) if body_only else (low, high, needle, needle),
        )
        found = sorted(set(found).union(more))
    others = [*long_uids(conn, folder.id), *unindexed]
    if not others:
        return found
    hits = set(found)
    for uid in others:
        if uid in hits:
            continue
        try:
            raw = folder.read(uid)
        except KeyError:
            continue
        if text_contains(raw, needle, body_only=body_only):
            hits.add(uid)
    present = set(folder.uids()) if unindexed else None
    return sorted(hits if present is None else hits & present)
