"""Running SEARCH over the selected view: set algebra over index answers, and per-message candidates.

``set_eval`` answers criteria made only of keys the index can answer (cached headers, UIDs, ALL)
without a per-message loop; otherwise ``Candidate`` gives the Matcher one message at a time,
reading its header or text only when a key needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from typing import Any

from agents.store.mime import searchable_text

from .search import SearchKey


def set_eval(key: SearchKey, hits: dict[SearchKey, set[int]], uids: Sequence[int]) -> set[int] | None:
    """UIDs matching ``key`` by set algebra over index answers; None if some key needs a per-message look."""
    if key in hits:
        return hits[key]
    if key.op == "ALL":
        return set(uids)
    if key.op == "UID":
        return {uids[i] for i in key.args[0].uids(uids)}
    if key.op in ("AND", "OR"):
        parts = [set_eval(k, hits, uids) for k in key.args]
        if any(part is None for part in parts):
            return None
        if not parts:
            return set(uids)
        if len(parts) == 1:  # SEARCH TEXT x is AND(TEXT x): no copy of what may be 100k UIDs (callers only read)
            return parts[0]
        out = set(parts[0])  # type: ignore[arg-type]
        for part in parts[1:]:
            out = out & part if key.op == "AND" else out | part  # type: ignore[operator]
        return out
    if key.op == "NOT":
        inner = set_eval(key.args[0], hits, uids)
        return None if inner is None else set(uids) - inner
    return None


def uses_modseq(key: SearchKey) -> bool:
    return key.op == "MODSEQ" or (key.op in ("AND", "OR", "NOT") and any(uses_modseq(k) for k in key.args))


class Candidate:
    """A message for the Matcher: index data at hand, header and text read on demand."""

    __slots__ = ("seq", "uid", "flags", "size", "internaldate", "modseq", "recent", "_folder", "_headers", "_raw")

    def __init__(self, folder: Any) -> None:
        self._folder = folder

    def reset(self, seq: int, meta: Any, recent: bool) -> None:
        """Point at the next message (one object serves the whole search loop)."""
        self.seq, self.uid, self.flags, self.size = seq, meta.uid, meta.flags, meta.size
        self.internaldate, self.modseq, self.recent = meta.internaldate, meta.modseq, recent
        self._headers: Any = None
        self._raw: bytes | None = None

    def _message(self) -> bytes:
        if self._raw is None:
            try:
                self._raw = self._folder.read(self.uid)
            except KeyError:
                self._raw = b""
        return self._raw

    def header(self, name: str) -> list[str]:
        if self._headers is None:
            self._headers = BytesHeaderParser().parsebytes(self._message())
        out = []
        for value in self._headers.get_all(name, []):
            try:
                out.append(str(make_header(decode_header(str(value)))))
            except Exception:
                out.append(str(value))
        return out

    def sent_date(self) -> date | None:
        values = self.header("date")
        if not values:
            return None
        try:
            return parsedate_to_datetime(values[0]).date()
        except (TypeError, ValueError, IndexError):
            return None

    def text(self, body_only: bool) -> str:
        return _readable(self._message(), body_only)


def _readable(raw: bytes, body_only: bool) -> str:
    """Message text for BODY/TEXT search: as written, plus decoded text parts (base64, quoted-printable, charsets)."""
    return searchable_text(raw, body_only)
