"""IMAP flags as the index keeps them: canonical system flags plus keywords."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import InvalidFlag

SYSTEM = ("\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen")
_CANONICAL = {flag.lower(): flag for flag in SYSTEM}
# An IMAP atom: no "\\", "]", "(", ")", "{", space, "%", "*", quotes or controls.
_KEYWORD = re.compile(r"^[!#$&'+\-.0-9:;<=>?@A-Z\[^_`a-z|}~]{1,100}$")
_cache: dict[str, frozenset[str]] = {}


def normalize(flags: Iterable[str], *, strict: bool = True) -> frozenset[str]:
    """Canonical flag set: system flags case-fixed, ``\\Recent`` dropped, keywords checked.

    Raises InvalidFlag for a keyword that is not an IMAP atom or an unknown ``\\``
    flag; with ``strict=False`` (delivery: a bad filter rule must not bounce mail)
    such flags are dropped instead.
    """
    out = set()
    for flag in flags:
        if not isinstance(flag, str):
            bad = f"flag {flag!r} is not text"
        elif flag.startswith("\\"):
            lower = flag.lower()
            if lower == "\\recent":
                continue
            if lower in _CANONICAL:
                out.add(_CANONICAL[lower])
                continue
            bad = f"unknown system flag {flag[:40]!r}"
        elif _KEYWORD.match(flag):
            out.add(flag)
            continue
        else:
            bad = f"invalid keyword {flag[:40]!r}"
        if strict:
            raise InvalidFlag(bad)
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
