"""Sequence sets (``1:4,7,9:*``) for message sequence numbers and UIDs (RFC 3501 §9)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

_NUMBER = r"(?:[1-9][0-9]{0,9}|\*)"
_SET_RE = re.compile(rf"{_NUMBER}(?::{_NUMBER})?(?:,{_NUMBER}(?::{_NUMBER})?)*\Z")
MAX_NUMBER = 4294967295


class SequenceError(ValueError):
    """Not a valid sequence set."""


@dataclass(frozen=True)
class SequenceSet:
    """Ranges of numbers; ``None`` stands for ``*`` (the largest number in use)."""

    ranges: tuple[tuple[int | None, int | None], ...]
    saved: bool = False  # "$": the result a SEARCH saved (RFC 5182); the selected view resolves it

    @classmethod
    def parse(cls, text: str) -> SequenceSet:
        """Raises SequenceError. Sets are immutable, so a text seen lately (``1:*``, a client's usual
        ranges) is parsed once."""
        if cls is SequenceSet and len(text) <= 32:
            found = _parsed.get(text)
            if found is None:
                found = cls._parse(text)
                if len(_parsed) >= 1024:
                    _parsed.clear()
                _parsed[text] = found
            return found
        return cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> SequenceSet:
        if text == "$":
            return cls((), saved=True)
        if len(text) > 100_000 or not _SET_RE.match(text):
            raise SequenceError(f"invalid sequence set: {text[:40]!r}")
        ranges: list[tuple[int | None, int | None]] = []
        for part in text.split(","):
            lo, _, hi = part.partition(":")
            first = None if lo == "*" else int(lo)
            last = first if not hi else (None if hi == "*" else int(hi))
            for value in (first, last):
                if value is not None and value > MAX_NUMBER:
                    raise SequenceError("number out of range")
            ranges.append((first, last))
        return cls(tuple(ranges))

    def bounds(self, largest: int) -> list[tuple[int, int]]:
        """The ranges as (low, high) with ``*`` replaced by ``largest`` and ends ordered."""
        out = []
        for first, last in self.ranges:
            a = largest if first is None else first
            b = largest if last is None else last
            out.append((min(a, b), max(a, b)))
        return out

    def seqs(self, count: int) -> list[int]:
        """Sequence numbers 1..count named by the set, ascending, without duplicates.

        Raises SequenceError if a number is beyond ``count`` (RFC 3501: that is a BAD).
        """
        bounds = self.bounds(count)
        for lo, hi in bounds:
            if lo < 1 or hi > count:
                raise SequenceError("message sequence number out of range")
        if len(bounds) == 1:  # the common case (1:*, n:m) without building a set
            return list(range(bounds[0][0], bounds[0][1] + 1))
        chosen: set[int] = set()
        for lo, hi in bounds:
            chosen.update(range(lo, hi + 1))
        return sorted(chosen)

    def uids(self, uids: Sequence[int]) -> list[int]:
        """The indexes (0-based) into the ascending ``uids`` whose UID is in the set.

        Non-existent UIDs are ignored, as RFC 3501 wants for UID commands.
        """
        if not uids:
            return []
        spans = [(bisect.bisect_left(uids, lo), bisect.bisect_right(uids, hi)) for lo, hi in self.bounds(uids[-1])]
        if len(spans) == 1:
            return list(range(*spans[0]))
        chosen: set[int] = set()
        for start, end in spans:
            chosen.update(range(start, end))
        return sorted(chosen)

    def contains_uid(self, uid: int, largest: int) -> bool:
        return any(lo <= uid <= hi for lo, hi in self.bounds(largest))


_parsed: dict[str, SequenceSet] = {}


def format_set(numbers: Sequence[int]) -> str:
    """Compact ascending numbers into a set string: [1,2,3,7] → ``1:3,7``."""
    nums = sorted(set(numbers))
    if not nums:
        return ""
    # where a run ends: one comparison per number in a comprehension (a 100k-hit ESEARCH ALL stays cheap)
    ends = [i for i, (a, b) in enumerate(zip(nums, nums[1:], strict=False)) if b != a + 1]
    ends.append(len(nums) - 1)
    parts: list[str] = []
    start = 0
    for end in ends:
        parts.append(str(nums[start]) if start == end else f"{nums[start]}:{nums[end]}")
        start = end + 1
    return ",".join(parts)
