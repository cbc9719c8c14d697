"""LIST and LSUB: which folders match the patterns, and their attributes (pure: no I/O).

Basic LIST (RFC 3501) shows ``\\Noselect`` for a level that exists only as a path, and always
the CHILDREN attributes (RFC 3348) and the special-use ones (RFC 6154). Extended LIST
(RFC 5258: selection options, RETURN options or several patterns) shows ``\\NonExistent``
instead, and children, special-use and ``\\Subscribed`` attributes only when asked for;
``(SUBSCRIBED)`` lists subscriptions (even of folders that are gone), and with
RECURSIVEMATCH a matching level whose descendants are subscribed comes with
``CHILDINFO ("SUBSCRIBED")``. LSUB lists subscriptions, and for a ``%`` pattern the
unsubscribed parents of subscribed folders as ``\\Noselect`` (RFC 3501 §6.3.9). This is what
Dovecot 2.3 answers (tests/imap/test_dovecot_list.py).

Once a session enabled IMAP4rev2 (``rev2``), names are UTF-8 instead of modified UTF-7 and a basic
LIST, whose rules are RFC 5258's there (RFC 9051 §6.3.9), shows a level that is only a path as
``\\NonExistent`` too. ``select_line`` and ``oldname_line`` are the LIST responses RFC 9051 adds
to SELECT/EXAMINE and to a name the server normalised.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from agents.store.types import FolderInfo

from . import parser as p
from . import responses as r

StatusLine = Callable[[str], bytes | None]  # folder name -> ``* STATUS ...`` line (LIST-STATUS), None if none


def _parents(names: Iterable[str]) -> set[str]:
    """Every proper path prefix of ``names`` (``a`` and ``a/b`` for ``a/b/c``)."""
    out: set[str] = set()
    for name in names:
        parts = name.split("/")
        out.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return out


def lines(cmd: p.ListCommand, infos: list[FolderInfo], subscriptions: Iterable[str] = (),
          status: StatusLine | None = None, rev2: bool = False) -> list[bytes]:
    """The untagged LIST/LSUB responses for ``cmd`` (and STATUS lines for RETURN (STATUS ...))."""
    folders = {f.name: f for f in infos}
    existing = set(folders)
    with_children = _parents(existing)
    subscribed = set(subscriptions) | {f.name for f in infos if f.subscribed}
    subscribed_parents = _parents(subscribed)
    regexes = [_pattern(cmd.reference + pat) for pat in cmd.patterns]

    def matches(name: str) -> bool:
        if rev2:  # the patterns are in NFC (parser); so is the name compared, whatever its own form
            name = unicodedata.normalize("NFC", name)
        return any(rx.match(name) for rx in regexes)

    childinfo: set[str] = set()
    noselect: set[str] = set()
    if cmd.name == "LSUB":
        names = {n for n in subscribed if matches(n)}
        noselect = {n for n in subscribed_parents - subscribed if matches(n)} if "%" in "".join(cmd.patterns) else set()
        names |= noselect
    elif cmd.subscribed_only:
        names = {n for n in subscribed if matches(n)}
        if cmd.recursive_match:
            childinfo = {n for n in subscribed_parents if matches(n)}
            names |= childinfo
    else:
        names = {n for n in existing | with_children if matches(n)}
        if cmd.special_use_only:
            names = {n for n in names if n in folders and folders[n].special_use}

    out: list[bytes] = []
    for name in sorted(names, key=lambda n: (n != "INBOX", n)):
        info = folders.get(name)
        attrs: list[str] = []
        if cmd.name == "LSUB":
            if name in noselect:
                attrs.append("\\Noselect")
            if info and info.special_use:
                attrs.append(info.special_use)
        elif not cmd.extended:
            if info is None:
                attrs.append("\\NonExistent" if rev2 else "\\Noselect")
            attrs.append("\\HasChildren" if name in with_children else "\\HasNoChildren")
            if info and info.special_use:
                attrs.append(info.special_use)
        else:
            if cmd.return_subscribed and name in subscribed:
                attrs.append("\\Subscribed")
            if info is None:
                attrs.append("\\NonExistent")
            if cmd.return_children:
                attrs.append("\\HasChildren" if name in with_children else "\\HasNoChildren")
            if cmd.return_special_use and info and info.special_use:
                attrs.append(info.special_use)
        word = "LSUB" if cmd.name == "LSUB" else "LIST"
        line = f"{word} ({' '.join(attrs)}) \"/\" ".encode() + r.mailbox(name, rev2)
        if name in childinfo:
            line += b' (CHILDINFO ("SUBSCRIBED"))'
        out.append(r.untagged(line))
        if status is not None and info is not None:
            found = status(name)
            if found is not None:
                out.append(found)
    return out


def _basic_attributes(name: str, infos: list[FolderInfo]) -> list[str]:
    info = next((f for f in infos if f.name == name), None)
    if info is None:
        return ["\\NonExistent"]
    children = any(f.name.startswith(name + "/") for f in infos)
    return ["\\HasChildren" if children else "\\HasNoChildren", *([info.special_use] if info.special_use else [])]


def select_line(name: str, infos: list[FolderInfo]) -> bytes:
    """The ``* LIST`` an IMAP4rev2 SELECT/EXAMINE sends for the folder it opened (RFC 9051 §6.3.2)."""
    return r.untagged(f"LIST ({' '.join(_basic_attributes(name, infos))}) \"/\" ".encode() + r.mailbox(name, True))


def oldname_line(name: str, old: str, infos: list[FolderInfo]) -> bytes:
    """``* LIST (...) "/" name ("OLDNAME" (old))``: the folder ``old`` (a name as the client sent it) is known
    as ``name`` (RFC 9051 §6.3.9.7): after a RENAME, or when a UTF-8 name was normalised to NFC."""
    line = f"LIST ({' '.join(_basic_attributes(name, infos))}) \"/\" ".encode() + r.mailbox(name, True)
    return r.untagged(line + b' ("OLDNAME" (' + r.mailbox(old, True) + b"))")


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
