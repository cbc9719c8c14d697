"""LIST and LSUB: which folders match the patterns, and their attributes (pure: no I/O)."""

from __future__ import annotations

import re

from agents.store.types import FolderInfo

from . import parser as p
from . import responses as r


def lines(cmd: p.ListCommand, infos: list[FolderInfo]) -> list[bytes]:
    """The untagged LIST/LSUB responses for ``cmd`` over the mailbox's folders."""
    word = "LSUB" if cmd.name == "LSUB" else "LIST"
    out: list[bytes] = []
    folders = {f.name: f for f in infos}
    names = set(folders)
    for name in list(names):  # parents that exist only as a path
        parts = name.split("/")
        names.update("/".join(parts[:i]) for i in range(1, len(parts)))
    regexes = [_pattern(cmd.reference + pat) for pat in cmd.patterns]
    for name in sorted(names, key=lambda n: (n != "INBOX", n)):
        if not any(rx.match(name) for rx in regexes):
            continue
        info = folders.get(name)
        if cmd.subscribed_only and not (info and info.subscribed):
            continue
        if cmd.special_use_only and not (info and info.special_use):
            continue
        attrs = []
        if info is None:
            attrs.append("\\Noselect")
        has_children = any(n.startswith(name + "/") for n in names)
        if word == "LIST":
            attrs.append("\\HasChildren" if has_children else "\\HasNoChildren")
            if info and info.special_use:
                attrs.append(info.special_use)
            if cmd.return_subscribed and info and info.subscribed:
                attrs.append("\\Subscribed")
        out.append(r.untagged(f"{word} ({' '.join(attrs)}) \"/\" ".encode() + r.mailbox(name)))
    return out


def _pattern(pattern: str) -> re.Pattern[str]:
    """LIST pattern → regex: ``*`` matches anything, ``%`` anything but the separator."""
    out = []
    for ch in pattern[:1000]:
        out.append(".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch))
    text = "".join(out)
    if pattern.upper().startswith("INBOX"):
        return re.compile("(?i:INBOX)" + "".join(_rest(pattern[5:])) + r"\Z")
    return re.compile(text + r"\Z")


def _rest(pattern: str) -> list[str]:
    return [".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in pattern]
