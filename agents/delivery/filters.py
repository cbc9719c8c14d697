"""Mailbox filters: pure matching of a parsed message against rules, and what they decide.

The rule format is ``webadmin.models.Filter``'s: conditions (from, to_cc, subject,
header, size with contains / not_contains / is / matches / gt / lt) combined by
"all"/"any", then actions (fileinto, mark_read, flag, redirect, forward, discard,
autoreply) and a stop flag. No I/O here: :func:`evaluate` returns a
:class:`Verdict` that the local delivery carries out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .message import ParsedMessage

MAX_PATTERN = 1000  # characters of a "matches" pattern; longer ones never match
MAX_SUBJECT = 64 * 1024  # characters of a header value looked at


class Rule(Protocol):
    """What a filter rule offers (``agents.config.FilterRule`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def match(self) -> str: ...
    @property
    def conditions(self) -> list[dict[str, Any]]: ...
    @property
    def actions(self) -> list[dict[str, Any]]: ...
    @property
    def stop(self) -> bool: ...


@dataclass
class Verdict:
    """What the filters decided for one message in one mailbox."""

    folder: str = "INBOX"
    flags: set[str] = field(default_factory=set)
    store: bool = True  # keep a copy in the mailbox
    redirects: list[str] = field(default_factory=list)  # redirect and forward targets
    autoreplies: list[dict[str, Any]] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)  # names of the rules that matched


def _values(message: ParsedMessage, cond: dict[str, Any]) -> list[str]:
    kind = cond.get("field")
    if kind == "from":
        return message.get_all("From") or [""]
    if kind == "to_cc":
        return (message.get_all("To") + message.get_all("Cc")) or [""]
    if kind == "subject":
        return message.get_all("Subject") or [""]
    if kind == "header":
        return message.get_all(str(cond.get("header", ""))) or []
    return []


def condition_matches(message: ParsedMessage, cond: dict[str, Any]) -> bool:
    """One condition against the message; an invalid condition never matches."""
    op = cond.get("op", "contains")
    value = cond.get("value", "")
    if cond.get("field") == "size":
        try:
            limit = int(value)
        except (TypeError, ValueError):
            return False
        return message.size > limit if op == "gt" else message.size < limit if op == "lt" else False
    if not isinstance(value, str):
        return False
    values = [v[:MAX_SUBJECT] for v in _values(message, cond)]
    needle = value.casefold()
    if op == "contains":
        return any(needle in v.casefold() for v in values)
    if op == "not_contains":
        return not any(needle in v.casefold() for v in values)
    if op == "is":
        return any(v.strip().casefold() == needle.strip() for v in values)
    if op == "matches":
        if len(value) > MAX_PATTERN:
            return False
        try:
            pattern = re.compile(value, re.IGNORECASE)
        except re.error:
            return False
        return any(pattern.search(v) for v in values)
    return False


def rule_matches(message: ParsedMessage, rule: Rule) -> bool:
    """True if ``rule``'s conditions hold ("all" or "any"); no conditions match every message."""
    conditions = [c for c in (rule.conditions or []) if isinstance(c, dict)]
    if not conditions:
        return True
    results = (condition_matches(message, c) for c in conditions)
    return any(results) if rule.match == "any" else all(results)


def evaluate(message: ParsedMessage, rules: Sequence[Rule]) -> Verdict:
    """Run ``rules`` in order and say where the message goes.

    Sieve-like: ``fileinto`` chooses the folder; ``redirect`` sends it on without a
    local copy unless a ``fileinto`` also matched; ``forward`` sends it on and keeps
    a copy; ``discard`` keeps nothing (redirects still go); ``stop`` ends the run.
    """
    verdict = Verdict()
    filed = redirected = discarded = False
    for rule in rules:
        if not rule_matches(message, rule):
            continue
        verdict.matched.append(rule.name)
        for action in rule.actions or []:
            if not isinstance(action, dict):
                continue
            kind = action.get("action")
            if kind == "fileinto" and isinstance(action.get("folder"), str) and action["folder"].strip():
                verdict.folder = action["folder"].strip()
                filed = True
            elif kind == "mark_read":
                verdict.flags.add("\\Seen")
            elif kind == "flag":
                verdict.flags.add("\\Flagged")
            elif kind in ("redirect", "forward") and isinstance(action.get("address"), str):
                address = action["address"].strip()
                if address and address.lower() not in (a.lower() for a in verdict.redirects):
                    verdict.redirects.append(address)
                redirected = redirected or kind == "redirect"
            elif kind == "discard":
                discarded = True
            elif kind == "autoreply":
                verdict.autoreplies.append(action)
        if rule.stop:
            break
    verdict.store = not discarded and (filed or not redirected)
    return verdict
