"""IMAP flags as the index keeps them: canonical system flags plus keywords."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import StoreError

SYSTEM = ("\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen")
_CANONICAL = {flag.lower(): flag for flag in SYSTEM}
_KEYWORD = re.compile(r"^[!#$&'+\-.0-9:;<=>?@A-Z\[^_`a-z|}~\x5d]{1,100}$")  # IMAP atom, no "\\"
_cache: dict[str, frozenset[str]] = {}


def normalize(flags: Iterable[str]) -> frozenset[str]:
    """Canonical flag set: system flags case-fixed, ``\\Recent`` dropped, keywords checked.

    Raises StoreError for a keyword that is not an IMAP atom or an unknown ``\\`` flag.
    """
    out = set()
    for flag in flags:
        if flag.startswith("\\"):
            lower = flag.lower()
            if lower == "\\recent":
                continue
            if lower not in _CANONICAL:
                raise StoreError(f"unknown system flag {flag!r}")
            out.add(_CANONICAL[lower])
        elif _KEYWORD.match(flag):
            out.add(flag)
        else:
            raise StoreError(f"invalid keyword {flag[:40]!r}")
    return frozenset(out)


def encode(flags: frozenset[str]) -> str:
    return " ".join(sorted(flags))


def decode(text: str) -> frozenset[str]:
    """Parse the index column, sharing one frozenset per distinct value (100k messages, few combinations)."""
    found = _cache.get(text)
    if found is None:
        found = frozenset(text.split()) if text else frozenset()
        if len(_cache) < 10_000:
            _cache[text] = found
    return found
