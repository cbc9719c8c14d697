"""A learned junk filter's counts, kept in a store sidecar, and what they say about a message.

Pure engine code (no Django): :mod:`agents.mailauth.learn` feeds it training
moves and asks it at delivery. Each mailbox has its own model in
``mailapp-junkfilter.sqlite`` beside its index (``MailboxStore.sidecar``), so it
moves and is archived with the mailbox; one global model at the mail root
(``Store.sidecar``) learns from every user's moves and answers for tokens a user's
model has not seen, once enough users have taught it.

A model holds token counts (:mod:`agents.mailauth.bayes` keys), how many spam and
ham messages it learned, which messages it learned as what (so a message moved out
of Junk is unlearned as spam and learned as ham, and learning twice counts once),
and the sender reputation: per From address and per From domain, how often the user
junked and kept their mail.

Points (added to the MX door's score at delivery, against the domain's junk score):

- Bayes: ``+BAYES_SPAM_POINTS`` at probability 1, ``-BAYES_HAM_POINTS`` at 0, linear
  from 0.5 either way;
- reputation: ``SENDER_POINTS`` (address) and ``DOMAIN_POINTS`` (domain) times
  ``(junked - kept) / (junked + kept + 1)``. A good reputation only counts when the
  From domain is authenticated (DMARC pass): anyone can forge a From that the user
  keeps, while forging one the user junks only hurts the forger.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agents.store.sidecar import Sidecar

from . import bayes

NAME = "junkfilter"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (token INTEGER PRIMARY KEY, spam INTEGER NOT NULL, ham INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS trained (message TEXT PRIMARY KEY, verdict TEXT NOT NULL, at INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS senders (sender TEXT PRIMARY KEY, spam INTEGER NOT NULL, ham INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS contributors (mailbox TEXT PRIMARY KEY) WITHOUT ROWID;
"""
SPAM, HAM = "spam", "ham"

BAYES_SPAM_POINTS = 7.5  # 5 points (the default junk score) at p = 0.83
BAYES_HAM_POINTS = 3.0
SENDER_POINTS = 3.0
DOMAIN_POINTS = 1.5
MIN_SPAM = MIN_HAM = 1  # a user's model speaks once it learned at least this many of each
GLOBAL_MIN_CONTRIBUTORS = 3  # the global model speaks once this many users taught it...
GLOBAL_MIN_MESSAGES = 10  # ... at least this many spam and this many ham messages


@dataclass
class Counts:
    """What a model knows about one message's tokens and sender."""

    nspam: int = 0
    nham: int = 0
    contributors: int = 0
    tokens: dict[int, tuple[int, int]] = field(default_factory=dict)
    senders: dict[str, tuple[int, int]] = field(default_factory=dict)

    def ready(self, min_spam: int, min_ham: int) -> bool:
        return self.nspam >= min_spam and self.nham >= min_ham


@dataclass
class Assessment:
    """The learned filter's opinion of one message for one user."""

    probability: float = 0.5  # Bayes: 0 ham … 1 spam
    bayes: float = 0.0  # points from it
    sender: float = 0.0  # points from the From address's reputation
    domain: float = 0.0  # ... and from its domain's
    model: str = "none"  # "user", "user+global", "global" or "none"
    clues: int = 0

    @property
    def points(self) -> float:
        return self.bayes + self.sender + self.domain

    def header(self, base: float, required: float) -> str:
        """``X-Spam-Learned``: the contribution, its parts, and the score it made."""
        return (f"X-Spam-Learned: {self.points:+.1f} (bayes={self.bayes:+.1f} p={self.probability:.3f}"
                f" model={self.model} clues={self.clues}; sender={self.sender:+.1f}; domain={self.domain:+.1f});"
                f" score={base + self.points:.1f} required={required:.1f}")


def _sender_keys(tokens: bayes.Tokens) -> list[str]:
    return ([f"a:{tokens.sender}"] if tokens.sender else []) + ([f"d:{tokens.domain}"] if tokens.domain else [])


def _meta(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def user_ready(counts: Counts) -> bool:
    return counts.ready(MIN_SPAM, MIN_HAM)


def global_ready(counts: Counts) -> bool:
    return counts.contributors >= GLOBAL_MIN_CONTRIBUTORS and counts.ready(GLOBAL_MIN_MESSAGES, GLOBAL_MIN_MESSAGES)


def lookup(model: Sidecar, tokens: bayes.Tokens, ready: Callable[[Counts], bool] = user_ready) -> Counts | None:
    """The model's counts for ``tokens`` (None when the model was never written or cannot be read).

    Token counts are read only when ``ready(counts)`` says the model may speak.
    """
    try:
        with model.read() as conn:
            if conn is None:
                return None
            meta = _meta(conn)
            counts = Counts(meta.get("nspam", 0), meta.get("nham", 0), meta.get("contributors", 0))
            if ready(counts):
                rows = conn.execute("SELECT token, spam, ham FROM tokens"
                                    " WHERE token IN (SELECT value FROM json_each(?))", (json.dumps(tokens.keys()),))
                counts.tokens = {t: (s, h) for t, s, h in rows}
            senders = _sender_keys(tokens)
            if senders:
                rows = conn.execute("SELECT sender, spam, ham FROM senders WHERE sender IN (?, ?)",
                                    (senders[0], senders[-1]))
                counts.senders = {k: (s, h) for k, s, h in rows}
            return counts
    except sqlite3.Error:  # a model being made, or damaged: no opinion rather than no delivery
        return None


def _reputation(counts: tuple[int, int] | None, weight: float, authenticated: bool) -> float:
    if counts is None:
        return 0.0
    spam, ham = counts
    points = weight * (spam - ham) / (spam + ham + 1)
    return points if points > 0 or authenticated else 0.0


def assess(tokens: bayes.Tokens, user: Counts | None, shared: Counts | None, authenticated: bool) -> Assessment:
    """Bayes over the user's counts, the global ones standing in for tokens the user's model lacks."""
    result = Assessment()
    mine = user.tokens if user is not None and user_ready(user) else None
    others = shared.tokens if shared is not None and global_ready(shared) else None
    if mine is not None or others is not None:
        probabilities = []
        used_shared = False
        for k in tokens.keys():
            if mine is not None and k in mine and user is not None:
                s, h = mine[k]
                probabilities.append(bayes.probability(s, h, user.nspam, user.nham))
            elif others is not None and k in others and shared is not None:
                s, h = others[k]
                probabilities.append(bayes.probability(s, h, shared.nspam, shared.nham))
                used_shared = True
        chosen = bayes.clues(probabilities)
        result.clues = len(chosen)
        result.probability = bayes.combine(chosen)
        result.model = ("user+global" if used_shared else "user") if mine is not None else "global"
        p = result.probability
        result.bayes = (p - 0.5) * 2 * (BAYES_SPAM_POINTS if p > 0.5 else BAYES_HAM_POINTS)
    if user is not None:
        result.sender = _reputation(user.senders.get(f"a:{tokens.sender}"), SENDER_POINTS, authenticated)
        result.domain = _reputation(user.senders.get(f"d:{tokens.domain}"), DOMAIN_POINTS, authenticated)
    return result


def learn(model: Sidecar, tokens: bayes.Tokens, verdict: str, message: str, contributor: str = "") -> str:
    """Count ``tokens`` as ``verdict`` (SPAM or HAM) for the message named ``message``.

    Returns "learned", "relearned" (it had been learned as the other verdict, which is
    undone first) or "known" (already learned as this verdict: nothing changes).
    ``contributor`` names the user a global model learned from. Raises StoreError or
    sqlite3.Error when the model cannot be written.
    """
    if verdict not in (SPAM, HAM):
        raise ValueError(f"verdict {verdict!r} is neither spam nor ham")
    keys = [(k,) for k in tokens.keys()]
    senders = [(k,) for k in _sender_keys(tokens)]
    with model.write() as conn:
        row = conn.execute("SELECT verdict FROM trained WHERE message = ?", (message,)).fetchone()
        if row is not None and row[0] == verdict:
            return "known"
        if row is not None:
            _count(conn, keys, senders, row[0], -1)
        _count(conn, keys, senders, verdict, +1)
        conn.execute("INSERT OR REPLACE INTO trained VALUES (?, ?, ?)", (message, verdict, int(time.time())))
        if contributor:
            conn.execute("INSERT OR IGNORE INTO contributors VALUES (?)", (contributor.lower(),))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('contributors', (SELECT count(*) FROM contributors))")
        return "relearned" if row is not None else "learned"


def _count(conn: sqlite3.Connection, keys: list[tuple[int]], senders: list[tuple[str]], verdict: str,
           step: int) -> None:
    column = "spam" if verdict == SPAM else "ham"  # one of two fixed names, never input
    total = "nspam" if verdict == SPAM else "nham"
    for table, key, rows in (("tokens", "token", keys), ("senders", "sender", senders)):
        if step > 0:
            conn.executemany(f"INSERT INTO {table} VALUES (?, 0, 0) ON CONFLICT DO NOTHING", rows)
        conn.executemany(f"UPDATE {table} SET {column} = max({column} + {step}, 0) WHERE {key} = ?", rows)
        if step < 0:
            conn.executemany(f"DELETE FROM {table} WHERE {key} = ? AND spam = 0 AND ham = 0", rows)
    conn.execute(f"INSERT INTO meta VALUES ('{total}', max({step}, 0)) "
                 f"ON CONFLICT(key) DO UPDATE SET value = max(value + {step}, 0)")


def learned_as(model: Sidecar, message: str) -> str | None:
    """How the model learned ``message`` (SPAM, HAM), or None."""
    try:
        with model.read() as conn:
            if conn is None:
                return None
            row = conn.execute("SELECT verdict FROM trained WHERE message = ?", (message,)).fetchone()
            return row[0] if row else None
    except sqlite3.Error:
        return None
