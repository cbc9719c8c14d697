"""Reading mbox files and Maildirs for import (stdlib ``mailbox``; no Django, no storage).

Each message comes out as an :class:`Item`: a stable key (its position in an mbox,
its unique name in a Maildir), the raw bytes, IMAP system flags and an internal date.
mbox flags come from ``Status:``/``X-Status:`` (R → \\Seen, A → \\Answered,
F → \\Flagged, D → \\Deleted, T → \\Draft), which are then removed like Dovecot
does; the date from the ``From `` line, else the ``Date:`` header. Maildir flags
come from the ``:2,`` info, the date from the file's mtime.
"""

from __future__ import annotations

import email.utils
import mailbox
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agents.store import maildir as maildir_names
from agents.store import names

MBOX_LETTERS = {"R": "\\Seen", "A": "\\Answered", "F": "\\Flagged", "D": "\\Deleted", "T": "\\Draft"}
# Headers an mbox writer (mutt, Dovecot, UW imapd) keeps its state in; not part of the message.
STATE_HEADERS = re.compile(rb"^(status|x-status|x-uid|x-keywords|x-imap|x-imapbase|content-length):",
                           re.IGNORECASE)
MAX_HEADER = 256 * 1024


@dataclass(frozen=True)
class Item:
    key: str
    raw: bytes
    flags: frozenset[str]
    date: float  # seconds since the epoch
    position: int = 0  # in the source's order (resuming skips this many)


def _header_block(raw: bytes) -> tuple[bytes, bytes]:
    """(header block including its blank line, body) of a message; LF or CRLF."""
    match = re.search(rb"\r?\n\r?\n", raw[:MAX_HEADER])
    if match is None:
        return raw, b""
    return raw[: match.end()], raw[match.end() :]


def _headers(block: bytes) -> list[bytes]:
    """Header fields with their continuation lines, each as one bytes value."""
    fields: list[bytes] = []
    for line in block.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def mbox_state(raw: bytes) -> tuple[bytes, frozenset[str], bool]:
    """The message without mbox state headers, its flags, and whether it is a pseudo-message (X-IMAP)."""
    block, body = _header_block(raw)
    flags: set[str] = set()
    kept: list[bytes] = []
    pseudo = False
    for field in _headers(block):
        if STATE_HEADERS.match(field):
            name, _, value = field.partition(b":")
            lowered = name.strip().lower()
            if lowered in (b"status", b"x-status"):
                flags.update(MBOX_LETTERS[c] for c in value.decode("ascii", "replace").strip() if c in MBOX_LETTERS)
            pseudo = pseudo or lowered == b"x-imap"
            continue
        kept.append(field)
    return b"".join(kept) + body, frozenset(flags), pseudo


def _date_header(raw: bytes) -> float | None:
    match = re.search(rb"^Date:[ \t]*(.*(?:\r?\n[ \t].*)*)", _header_block(raw)[0], re.IGNORECASE | re.MULTILINE)
    if match is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(" ".join(match.group(1).decode("latin-1").split())).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}
FROM_DATE = re.compile(r"([A-Z][a-z]{2}) +(\d{1,2}) +(\d{1,2}):(\d\d)(?::(\d\d))?(?: +[A-Z+\-0-9]{1,5})? +(\d{4})\s*$")


def from_line_date(line: bytes) -> float | None:
    """The date of an mbox ``From sender Tue Nov 23 14:00:00 2026`` line (asctime, local time); None if none."""
    match = FROM_DATE.search(line[-80:].decode("latin-1", "replace"))
    if match is None or match.group(1) not in MONTHS:
        return None
    month, day, hour, minute, second, year = match.groups()
    fields = (int(year), MONTHS[month], int(day), int(hour), int(minute), int(second or 0))
    if not (1 <= fields[2] <= 31 and fields[3] < 24 and fields[4] < 60 and fields[5] < 62 and fields[0] >= 1970):
        return None
    try:
        return time.mktime((*fields, 0, 0, -1))
    except (ValueError, OverflowError):
        return None


def looks_like_mbox(path: Path) -> bool:
    """An mbox starts with a ``From `` line (an empty file is an empty mbox)."""
    with open(path, "rb") as handle:
        head = handle.read(5)
    return head in (b"", b"From ")


def mbox_count(path: Path) -> int:
    """Messages in an mbox (stdlib indexes their offsets once; bodies are not kept in memory)."""
    box = mailbox.mbox(str(path), create=False)
    try:
        return len(box)
    finally:
        box.close()  # mailbox.mbox holds the file open until closed


def mbox_items(path: Path, skip: int = 0) -> Iterator[Item]:
    """Every message of an mbox, in order, from position ``skip`` on; keys are ``mbox:<position>``."""
    box = mailbox.mbox(str(path), create=False)
    try:
        for position, key in enumerate(sorted(box.keys())):
            if position < skip:
                continue
            whole = box.get_bytes(key, from_=True)
            from_line, _, raw = whole.partition(b"\n")
            clean, flags, pseudo = mbox_state(raw)
            if pseudo and position == 0:
                continue  # the "internal data" message UW imapd and Dovecot put first
            date = from_line_date(from_line) or _date_header(clean) or time.time()
            yield Item(f"mbox:{position}", clean, flags, date, position)
    finally:
        box.close()


def maildir_folders(root: Path) -> list[tuple[str, Path]]:
    """(folder name, directory) of a Maildir++ tree: INBOX plus ``.Sent``, ``.A.B`` (mUTF-7 decoded)."""
    found = [("INBOX", root)] if (root / "cur").is_dir() or (root / "new").is_dir() else []
    for entry in sorted(os.listdir(root)):
        name = names.from_dirname(entry)
        if name is not None and ((root / entry / "cur").is_dir() or (root / entry / "new").is_dir()):
            found.append((name, root / entry))
    return found


def maildir_files(folder: Path) -> list[tuple[str, str]]:
    """("new"|"cur", file name) of every message, sorted by unique name (stable across runs)."""
    box = mailbox.Maildir(str(folder), factory=None, create=False)  # stdlib: validates the layout
    del box
    files: list[tuple[str, str]] = []
    for sub in ("new", "cur"):
        try:
            entries = os.listdir(folder / sub)
        except FileNotFoundError:
            continue
        files.extend((sub, name) for name in entries if not name.startswith("."))
    return sorted(files, key=lambda f: (f[1].partition(maildir_names.INFO_SEP)[0], f[0]))


def maildir_items(folder: Path, skip: int = 0) -> Iterator[Item]:
    """Every message of one Maildir folder from position ``skip`` on; keys are the unique names."""
    for position, (sub, name) in enumerate(maildir_files(folder)[skip:], start=skip):
        path = folder / sub / name
        try:
            raw = path.read_bytes()
            mtime = path.stat().st_mtime
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            continue  # moved away meanwhile (a live Maildir)
        unique, flags = maildir_names.split_name(name)
        yield Item(f"maildir:{unique}", raw, flags if sub == "cur" else frozenset(), mtime, position)
