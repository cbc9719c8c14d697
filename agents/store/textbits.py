"""Posting bitmaps of the full-text index: for each folder and term, the UIDs whose text holds it.

A needle inside hundreds of terms (``ing``, ``tion``) or in most messages (``the``) costs the
FTS5 word index a merge of every term's rows, which grows with terms x hits. Here each
(folder, term) has a compressed UID bitmap (roaring, ``pyroaring``) for the header text and one
for the body text, so the answer is the union of a few hundred bitmaps, in C, and a single
character (``a``, ``@``) has its own bitmap.

The bitmaps cover the folder's UIDs up to ``upto`` (``fulltext_bitstate``); they are "folded"
from the stored text (``fulltext_text``) by searches, ``BATCH`` rows a search, once ``FOLD_AT``
rows are past ``upto``. Rows past ``upto`` are answered by the word index as before. A message
expunged at or below ``upto`` is listed in ``fulltext_gone`` (a trigger) and subtracted from
answers; when the list grows past a quarter of the folded rows the folder's bitmaps are dropped
and folded again. A text stored at or below ``upto`` (old messages indexed late, a reused folder
id) drops the state too, as does a new UIDVALIDITY: the bitmaps never answer for rows they miss.

Keys are ``folder_id << 32 | term_id`` (term ids of ``fulltext_terms``) and ``folder_id << 32 |
code point`` for characters.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from collections import OrderedDict, defaultdict
from itertools import compress, islice
from operator import or_
from typing import Any

from pyroaring import BitMap

FOLD_AT = 1000  # rows past the bitmaps before a search folds them (fewer are answered by the word index)
BATCH = 5000  # rows one search folds (1–2.5 s CPU; fewer, bigger folds rewrite the common bitmaps less often)
GONE_MIN = 1000  # expunged rows subtracted at each search before the folder's bitmaps may be rebuilt
LOW32 = 0xFFFFFFFF
COMMON_SHARE = 0.05  # a term in this share of a folder's first folded rows is "common" for its pair keys
COMMON_MAX = 100  # common terms kept per folder (the most frequent)
PAIR_SEP = 3  # separators of up to this many characters between two terms get pair keys
RESULTS_KEPT = 64  # answers of costly needles kept per process (``remembered``)

# (index path, inode, folder id, bitmaps generation, needle, body only) -> (UIDs up to which it holds, answer)
_results: OrderedDict[tuple[Any, ...], tuple[int, BitMap]] = OrderedDict()

# Token characters of FTS5's ``ascii`` tokenizer (ASCII letters and digits, every non-ASCII
# character), on text already case-folded (so no A-Z is left). Python and FTS5 split alike.
TOKEN = re.compile("[0-9a-z\u0080-\U0010ffff]+")


def below(conn: sqlite3.Connection, folder_id: int, uid: int) -> None:
    """A text is stored for ``uid``: if the folder's bitmaps already cover that UID they would miss it, so they
    are dropped (rebuilt by later searches; meanwhile the word index answers)."""
    conn.execute("DELETE FROM fulltext_bitstate WHERE folder_id = ? AND upto >= ?", (folder_id, uid))


def forget(conn: sqlite3.Connection, folder_id: int) -> None:
    """Drop the folder's bitmaps (``manage.py reindex``)."""
    conn.execute("DELETE FROM fulltext_bitstate WHERE folder_id = ?", (folder_id,))


def upto(conn: sqlite3.Connection, folder_id: int) -> int | None:
    """Highest UID the folder's bitmaps cover; None when they are missing or of an older UIDVALIDITY."""
    found = state(conn, folder_id)
    return None if found is None else found[0]


def state(conn: sqlite3.Connection, folder_id: int) -> tuple[int, int] | None:
    """(highest UID covered, generation) of the folder's bitmaps; None when they are missing or stale. The
    generation changes each time they are started over."""
    row = conn.execute(
        "SELECT s.upto, s.gen FROM fulltext_bitstate s"
        " JOIN folders f ON f.id = s.folder_id AND f.uidvalidity = s.uidvalidity WHERE s.folder_id = ?",
        (folder_id,),
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else None


def _count(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...], cap: int) -> int:
    return int(conn.execute(f"SELECT count(*) FROM ({sql} LIMIT {int(cap)})", params).fetchone()[0])


def fold(index: Any, folder_id: int) -> None:
    """Bring the folder's bitmaps forward by up to ``BATCH`` stored texts, when ``FOLD_AT`` or more wait
    (one write transaction); start them over when they are stale or too many of their rows are expunged."""
    conn = index.conn
    low, high = folder_id << 32, folder_id << 32 | LOW32
    done = upto(conn, folder_id)
    start = 0 if done is None else done
    waiting = _count(conn, "SELECT 1 FROM fulltext_text WHERE id > ? AND id <= ?", (low | start, high), FOLD_AT)
    stale = done is None and bool(
        conn.execute("SELECT 1 FROM fulltext_bitstate WHERE folder_id = ?", (folder_id,)).fetchone()
    )
    if done is not None:
        gone = _count(conn, "SELECT 1 FROM fulltext_gone WHERE id BETWEEN ? AND ?", (low, high), GONE_MIN)
        if gone >= GONE_MIN:
            folded = _count(conn, "SELECT 1 FROM fulltext_text WHERE id BETWEEN ? AND ?", (low, low | done), 4 * gone)
            stale = folded < 4 * gone
    if waiting < FOLD_AT and not stale:
        return
    with index.write() as conn:
        done = None if stale else upto(conn, folder_id)  # another process may have folded meanwhile
        if done is None:
            for table in ("fulltext_bits", "fulltext_chars", "fulltext_gone", "fulltext_pairbits", "fulltext_common"):
                conn.execute(f"DELETE FROM {table} WHERE id BETWEEN ? AND ?", (low, high))
            conn.execute(
                "INSERT OR REPLACE INTO fulltext_bitstate SELECT id, uidvalidity, 0, ? FROM folders WHERE id = ?",
                (random.getrandbits(62), folder_id),
            )
            done = 0
        rows = conn.execute(
            "SELECT id, head, body FROM fulltext_text WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
            (low | done, high, BATCH),
        ).fetchall()
        if not rows:
            return
        terms: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        chars: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        tokens = []
        for key, head, body in rows:
            uid = key & LOW32
            for column, text in ((0, head), (1, body)):
                found = TOKEN.findall(text)
                tokens.append((uid, column, found, TOKEN.split(text)))
                for term in set(found):
                    terms[term][column].append(uid)
                for char in set(text):
                    chars[char][column].append(uid)
        listed = json.dumps(list(terms), ensure_ascii=False)
        conn.execute("INSERT OR IGNORE INTO fulltext_terms (term) SELECT value FROM json_each(?)", (listed,))
        ids = dict(
            conn.execute(
                "SELECT term, id FROM fulltext_terms WHERE term IN (SELECT value FROM json_each(?))", (listed,)
            )
        )
        _merge(conn, "fulltext_bits", {low | term_id: terms[term] for term, term_id in ids.items()})
        _merge(conn, "fulltext_chars", {low | ord(char): uids for char, uids in chars.items()})
        if done == 0:  # the folder's common terms, from its first rows
            least = COMMON_SHARE * len(rows)
            counts = [(len(set(h) | set(b)), t) for t, (h, b) in terms.items() if len(h) + len(b) >= least]
            chosen = [low | ids[t] for n, t in sorted(counts, reverse=True)[:COMMON_MAX] if n >= least]
            conn.executemany("INSERT OR IGNORE INTO fulltext_common (id) VALUES (?)", [(k,) for k in chosen])
        pairs = _pairs(tokens, common(conn, folder_id))
        listed = json.dumps(list(pairs), ensure_ascii=False)
        conn.execute("INSERT OR IGNORE INTO fulltext_pairs (pair) SELECT value FROM json_each(?)", (listed,))
        pair_ids = conn.execute(
            "SELECT pair, id FROM fulltext_pairs WHERE pair IN (SELECT value FROM json_each(?))", (listed,)
        ).fetchall()
        _merge(conn, "fulltext_pairbits", {low | pair_id: pairs[pair] for pair, pair_id in pair_ids})
        conn.execute("UPDATE fulltext_bitstate SET upto = ? WHERE folder_id = ?", (rows[-1][0] & LOW32, folder_id))


def common(conn: sqlite3.Connection, folder_id: int) -> frozenset[str]:
    """The folder's common terms: those whose neighbours get pair keys."""
    low = folder_id << 32
    return frozenset(
        r[0]
        for r in conn.execute(
            "SELECT t.term FROM fulltext_common c JOIN fulltext_terms t ON t.id = c.id & 4294967295"
            " WHERE c.id BETWEEN ? AND ?",
            (low, low | LOW32),
        )
    )


def pairable(sep: str) -> bool:
    """Whether terms separated by ``sep`` get pair keys (SQLite's strings end at NUL; \\x01 splits keys)."""
    return len(sep) <= PAIR_SEP and "\x00" not in sep and "\x01" not in sep


def pair_key(kind: str, left: str, sep: str, right: str) -> str:
    """Key of two neighbouring terms separated by ``sep``: kind "t" both terms (both common); "r" a common
    term and the first character of the next; "l" the last character of a term and the common one after it."""
    return f"{kind}\x01{left}\x01{sep}\x01{right}"


def _pairs(
    tokens: list[tuple[int, int, list[str], list[str]]], common: frozenset[str]
) -> dict[str, tuple[list[int], list[int]]]:
    """Pair keys of the texts (UID, column, terms, separators), each with the UIDs (head, body) holding it."""
    out: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    if not common:
        return out
    is_common = common.__contains__
    good: dict[str, bool] = {}  # separator -> whether it gets keys
    for uid, column, terms, seps in tokens:
        keys: set[str] = set()
        add = keys.add
        flags = list(map(is_common, terms))
        near = compress(range(1, len(terms)), map(or_, flags, islice(flags, 1, None)))  # a common term either side
        for i in near:
            sep = seps[i]
            ok = good.get(sep)
            if ok is None:
                ok = good[sep] = pairable(sep)
            if not ok:
                continue
            left, right = terms[i - 1], terms[i]
            if flags[i - 1]:
                add(f"r\x01{left}\x01{sep}\x01{right[0]}")
                if flags[i]:
                    add(f"t\x01{left}\x01{sep}\x01{right}")
            if flags[i]:
                add(f"l\x01{left[-1]}\x01{sep}\x01{right}")
        for key in keys:
            out[key][column].append(uid)
    return out


def _merge(conn: sqlite3.Connection, table: str, adds: dict[int, tuple[list[int], list[int]]]) -> None:
    """OR the new UIDs (head, body) into each key's stored bitmaps."""
    keys = json.dumps(list(adds))
    old = {
        key: (head, body)
        for key, head, body in conn.execute(
            f"SELECT id, head, body FROM {table} WHERE id IN (SELECT value FROM json_each(?))", (keys,)
        )
    }
    out = []
    for key, (heads, bodies) in adds.items():
        blobs = old.get(key, (None, None))
        pair = []
        for blob, uids in zip(blobs, (heads, bodies), strict=True):
            if not uids:
                pair.append(blob)
                continue
            bits = BitMap.deserialize(blob) if blob else BitMap()
            bits.update(uids)
            bits.run_optimize()
            pair.append(bits.serialize())
        out.append((key, pair[0], pair[1]))
    conn.executemany(f"INSERT OR REPLACE INTO {table} (id, head, body) VALUES (?, ?, ?)", out)


def pair_union(conn: sqlite3.Connection, folder_id: int, keys: list[str], body_only: bool) -> BitMap:
    """UIDs holding any of the pair keys ``keys`` (``pair_key``), expunged ones removed."""
    if not keys:
        return BitMap()
    ids = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM fulltext_pairs WHERE pair IN (SELECT value FROM json_each(?))",
            (json.dumps(keys, ensure_ascii=False),),
        )
    ]
    return union(conn, "fulltext_pairbits", folder_id, ids, body_only)


def union(conn: sqlite3.Connection, table: str, folder_id: int, ids: list[int], body_only: bool) -> BitMap:
    """UIDs holding any of the terms (or characters) ``ids`` in their body (or head, unless ``body_only``),
    expunged ones removed."""
    low = folder_id << 32
    maps: list[BitMap] = []
    column = "body" if body_only else "head, body"
    for row in conn.execute(
        f"SELECT {column} FROM {table} WHERE id IN (SELECT ? | value FROM json_each(?))", (low, json.dumps(ids))
    ):
        maps.extend(BitMap.deserialize(blob) for blob in row if blob)
    found = BitMap.union(*maps) if len(maps) > 1 else maps[0] if maps else BitMap()
    return without_gone(conn, folder_id, found)


def without_gone(conn: sqlite3.Connection, folder_id: int, found: BitMap) -> BitMap:
    """``found`` less the UIDs expunged since the bitmaps were folded."""
    low = folder_id << 32
    gone = conn.execute(
        "SELECT json_group_array(id & 4294967295) FROM fulltext_gone WHERE id BETWEEN ? AND ?", (low, low | LOW32)
    ).fetchone()[0]
    return found - BitMap(json.loads(gone)) if gone != "[]" else found


def remembered(key: tuple[Any, ...]) -> tuple[int, BitMap] | None:
    """A costly needle's answer kept by this process: (the highest UID it covers, its UIDs), to be completed
    past that UID and less the expunged ones. Its key holds the bitmaps' generation, so answers of
    bitmaps that were started over (texts stored below them, a new UIDVALIDITY) are never used."""
    found = _results.get(key)
    if found is not None:
        _results.move_to_end(key)
    return found


def forget_answers() -> None:
    """Drop the answers this process keeps (benchmarks time the first search of a needle with it)."""
    _results.clear()


def remember(key: tuple[Any, ...], covered: int, found: BitMap) -> None:
    _results[key] = (covered, found)
    _results.move_to_end(key)
    while len(_results) > RESULTS_KEPT:
        _results.popitem(last=False)
