"""A Bayesian token classifier for junk mail: tokens of a message, and Robinson–Fisher combining.

Pure (no Django, no I/O); :mod:`agents.mailauth.junkmodel` keeps the counts.
Design after SpamBayes and Mox's junk filter:

- **Tokens** come from a few headers (Subject words, the From display name,
  the Reply-To domain, the mailer, the top content type, which header
  names are present), from the text of ``text/plain`` and ``text/html`` parts
  (transfer encoding and charset decoded, tags dropped), the host names of links,
  the types and file-name extensions of attachments, and pairs of adjacent words
  (Mox's "twograms"). Trace and verdict headers (Received, Authentication-Results,
  X-Spam-*, Delivered-To…) are never tokens: the filter must not learn from its
  own output. Everything is lowercased. The From address and its domain are not
  tokens: they feed the sender reputation, weighed apart.
- **Bounds**: only the first :data:`MAX_SCAN` bytes of a message are read, at most
  :data:`MAX_PART_TEXT` decoded bytes of a part and :data:`MAX_TEXT_PARTS` parts,
  and at most :data:`MAX_TOKENS` distinct tokens are kept. The MIME walk is the
  store's capped, iterative one (``agents.store.mimetree``).
- **A token's spam probability** is Gary Robinson's f(w): the ratio of its spam
  and ham frequencies, pulled towards 0.5 by its rarity (strength ``S``).
- **Combining** uses Fisher's chi-square method as SpamBayes does, over the
  :data:`MAX_CLUES` tokens farthest from 0.5 (ignoring those within
  :data:`MIN_STRENGTH` of it): 0 is ham, 1 is spam, 0.5 is "no idea".
"""

from __future__ import annotations

import base64
import binascii
import html
import math
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from agents.store import mimetree

from . import message

MAX_SCAN = 128 * 1024  # bytes of a message read at all
MAX_PART_TEXT = 32 * 1024  # decoded bytes of one text part
MAX_TEXT_PARTS = 20  # text parts read
MAX_PARTS_SEEN = 200  # parts looked at for types and file names
MAX_TOKENS = 1000  # distinct tokens kept from one message (the cost of scoring follows it)
MAX_HEADER_FIELDS = 200
MIN_WORD, MAX_WORD = 3, 24

S = 1.0  # Robinson's strength of the background belief
X = 0.5  # ... and that belief: an unknown token says nothing
MIN_STRENGTH = 0.1  # tokens with |f - 0.5| below this are not clues
MAX_CLUES = 150  # SpamBayes's max_discriminators

_WORD = re.compile(r"[^\W_][\w'$€£%-]*")
_URL = re.compile(r"(?:https?|ftp)://([a-z0-9.-]{1,253})", re.I)
_HREF = re.compile(r"""(?:href|src)\s*=\s*["']?(?:https?:)?//([a-z0-9.-]{1,253})""", re.I)
_TAG = re.compile(r"<[^>]{0,2000}>")
_SKIP_HEADERS = frozenset({
    "received", "return-path", "delivered-to", "authentication-results", "arc-authentication-results",
    "arc-seal", "arc-message-signature", "dkim-signature", "x-spam-score", "x-spam-status", "x-spam-flag",
    "x-spam-learned", "date", "message-id", "to", "cc", "in-reply-to", "references",
})


@dataclass
class Tokens:
    """What a message says to the classifier: its tokens, and who it says it is from."""

    words: set[str] = field(default_factory=set)
    sender: str = ""  # the From address, lowercased ("" if there is not exactly one)
    domain: str = ""  # its domain
    _keys: list[int] | None = field(default=None, repr=False)

    def keys(self) -> list[int]:
        """The storage key of each word (computed once)."""
        if self._keys is None or len(self._keys) != len(self.words):
            self._keys = _keys(self.words)
        return self._keys

    def add(self, token: str) -> bool:
        """Keep ``token`` unless the budget is spent; False once it is."""
        if len(self.words) >= MAX_TOKENS:
            return False
        self.words.add(token)
        return True


def key(token: str) -> int:
    """The 63-bit key a token is stored under (SQLite's INTEGER PRIMARY KEY).

    CRC-32 (31 bits of it) and Adler-32 side by side: not cryptographic (nothing here is
    secret, and a spammer who makes two tokens collide only blurs them), but cheap,
    which matters at a few hundred tokens per message.
    """
    return _keys([token])[0]


def _keys(tokens: Iterable[str]) -> list[int]:
    crc, adler = zlib.crc32, zlib.adler32
    return [(crc(b) & 0x7FFFFFFF) << 32 | adler(b) for b in (t.encode("utf-8", "surrogatepass") for t in tokens)]


def _words(text: str) -> Iterable[str]:
    for match in _WORD.finditer(text):
        word = match.group().strip("'-").lower()
        if len(word) < MIN_WORD:
            continue
        if len(word) > MAX_WORD:  # SpamBayes's "skip" tokens: a long run says something, its letters do not
            yield f"skip:{word[0]}{len(word) // 10 * 10}"
            continue
        yield word


def _text_tokens(tokens: Tokens, text: str, prefix: str = "", pairs: bool = True) -> None:
    previous = ""
    for word in _words(text):
        if not tokens.add(prefix + word):
            return
        if pairs and previous and not tokens.add(f"{prefix}{previous} {word}"):
            return
        previous = word


def _hosts(tokens: Tokens, text: str, pattern: re.Pattern[str]) -> None:
    for match in pattern.finditer(text[:MAX_PART_TEXT]):
        host = match.group(1).lower().strip(".")
        labels = host.split(".")
        tokens.add("url:" + host)
        if len(labels) > 2:
            tokens.add("url:" + ".".join(labels[-2:]))


def _decoded(raw: bytes, part: mimetree.Part) -> bytes:
    body = raw[part.body : min(part.end, part.body + 4 * MAX_PART_TEXT)]
    encoding = part.fields.get("content-transfer-encoding", "").strip().lower()
    try:
        if encoding == "base64":
            body = base64.b64decode(re.sub(rb"[^A-Za-z0-9+/]", b"", body)[: len(body) // 4 * 4] or b"")
        elif encoding == "quoted-printable":
            body = binascii.a2b_qp(body)
    except (binascii.Error, ValueError):
        pass  # keep the encoded text: still words
    return body[:MAX_PART_TEXT]


def _charset(part: mimetree.Part) -> str:
    value = dict(part.params).get("charset", "utf-8").strip().lower() or "utf-8"
    try:
        "".encode(value)
        return value
    except (LookupError, ValueError):
        return "utf-8"


def _header_tokens(tokens: Tokens, fields: list[tuple[str, str]]) -> None:
    subject = message.first(fields, "subject") or ""
    _text_tokens(tokens, _decode_words(subject)[:1000], "subject:")
    froms = [v for n, v in fields if n == "from"]
    if len(froms) == 1:
        address = re.search(r"[\w.+=!#$%&'*/?^`{|}~-]{1,64}@[a-z0-9.-]{1,253}", froms[0], re.I)
        if address:
            tokens.sender = address.group().lower().rstrip(".")  # the reputation's, not a token:
            tokens.domain = tokens.sender.rpartition("@")[2]  # junkmodel weighs it apart
        name = froms[0].split("<", 1)[0] if "<" in froms[0] else ""
        _text_tokens(tokens, _decode_words(name)[:200], "from-name:", pairs=False)
    else:
        tokens.add(f"from-count:{min(len(froms), 3)}")
    reply_to = message.first(fields, "reply-to") or ""
    if "@" in reply_to:
        tokens.add("reply-to-domain:" + reply_to.rpartition("@")[2].strip(" >").lower()[:100])
    for name in ("x-mailer", "user-agent"):
        value = message.first(fields, name)
        if value:
            tokens.add(f"{name}:{' '.join(value.lower().split()[:2])[:60]}")
    for name, _ in fields[:MAX_HEADER_FIELDS]:
        if name not in _SKIP_HEADERS and len(name) <= 40:
            tokens.add("header:" + name)


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded, best effort."""
    if "=?" not in value:
        return value
    try:
        from email.header import decode_header, make_header

        return str(make_header(decode_header(value)))
    except Exception:  # the email package raises several types on hostile input
        return value


def tokenize(raw: bytes) -> Tokens:
    """The tokens of ``raw`` (bounded work on any input; never raises)."""
    raw = raw[:MAX_SCAN]
    tokens = Tokens()
    _header_tokens(tokens, message.headers(raw))
    root = mimetree.parse(raw)
    text_parts = html_parts = plain_parts = seen = 0
    for part in mimetree.walk(root):
        seen += 1
        if seen > MAX_PARTS_SEEN or len(tokens.words) >= MAX_TOKENS:
            break
        if part.kind != "leaf":
            tokens.add(f"type:{part.maintype}/{part.subtype}"[:60])
            continue
        if part.maintype != "text" or part.subtype not in ("plain", "html"):
            tokens.add(f"type:{part.maintype}/{part.subtype}"[:60])
            filename = dict(part.params).get("name", "")
            if "." in filename:
                tokens.add("ext:" + filename.rpartition(".")[2].lower()[:10])
            continue
        if text_parts >= MAX_TEXT_PARTS:
            continue
        text_parts += 1
        text = _decoded(raw, part).decode(_charset(part), "replace")
        if part.subtype == "html":
            html_parts += 1
            _hosts(tokens, text, _HREF)
            text = html.unescape(_TAG.sub(" ", text))
        else:
            plain_parts += 1
        _hosts(tokens, text, _URL)
        _text_tokens(tokens, text)
    if html_parts and not plain_parts:
        tokens.add("html:only")
    return tokens


def probability(spam: int, ham: int, nspam: int, nham: int) -> float:
    """Robinson's f(w) for a token seen in ``spam`` of ``nspam`` spam and ``ham`` of ``nham`` ham messages."""
    spam_ratio = spam / nspam if nspam else 0.0
    ham_ratio = ham / nham if nham else 0.0
    if spam_ratio + ham_ratio == 0:
        return X
    p = spam_ratio / (spam_ratio + ham_ratio)
    n = spam + ham
    return (S * X + n * p) / (S + n)


def _chi2q(x2: float, v: int) -> float:
    """P(chi-square with ``v`` (even) degrees of freedom >= ``x2``)."""
    m = x2 / 2.0
    term = total = math.exp(-m)
    for i in range(1, v // 2):
        term *= m / i
        total += term
    return min(total, 1.0)


def clues(probabilities: Iterable[float]) -> list[float]:
    """The telling probabilities: farther than MIN_STRENGTH from 0.5, at most MAX_CLUES, strongest first."""
    strong = [p for p in probabilities if abs(p - 0.5) >= MIN_STRENGTH]
    strong.sort(key=lambda p: -abs(p - 0.5))
    return strong[:MAX_CLUES]


def combine(probabilities: list[float]) -> float:
    """Fisher–Robinson chi-square combining of the clues: 0.0 ham … 1.0 spam; 0.5 with no clues."""
    if not probabilities:
        return 0.5
    spam_sum = ham_sum = 0.0
    for p in probabilities:
        p = min(max(p, 1e-6), 1 - 1e-6)
        ham_sum += math.log(p)
        spam_sum += math.log(1.0 - p)
    n = 2 * len(probabilities)
    spamminess = 1.0 - _chi2q(-2.0 * spam_sum, n)
    hamminess = 1.0 - _chi2q(-2.0 * ham_sum, n)
    return (spamminess - hamminess + 1.0) / 2.0
