"""Maildir file layout: unique names, flag letters, durable writes.

Only this module and the folder/mailbox modules touch files under a mailbox.
A message file is ``<unique>:2,<letters>`` in ``cur/`` (or ``<unique>`` in
``new/``); ``<unique>`` carries ``,S=<size>`` like Dovecot so readers need no stat.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import socket
import tempfile
import time
from pathlib import Path

from mailcore import durable

SUBDIRS = ("cur", "new", "tmp")
INFO_SEP = ":2,"

# IMAP system flag <-> Maildir info letter (letters must be written in ASCII order).
FLAG_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}
LETTER_FLAGS = {letter: flag for flag, letter in FLAG_LETTERS.items()}

_counter = itertools.count()
_hostname = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"


def unique_name(size: int) -> str:
    """A new Maildir unique name: time, microseconds, pid and a per-process counter."""
    now = time.time()
    sec = int(now)
    usec = int((now - sec) * 1_000_000)
    return f"{sec}.M{usec}P{os.getpid()}Q{next(_counter)}.{_hostname},S={size}"


def keyed_name(key: str) -> str:
    """The unique name of a message delivered with ``key``: the same for every retry, on any host.

    No ``,S=<size>``: a retry may carry a slightly different copy (a new Received
    line), and must still find the file an interrupted attempt left behind.
    """
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return f"K{digest}.mailapp"


def letters(flags: frozenset[str] | set[str]) -> str:
    """Maildir info letters for the system flags in ``flags``, sorted."""
    return "".join(sorted(FLAG_LETTERS[f] for f in flags if f in FLAG_LETTERS))


def file_name(unique: str, flags: frozenset[str] | set[str]) -> str:
    return f"{unique}{INFO_SEP}{letters(flags)}"


def split_name(entry: str) -> tuple[str, frozenset[str]]:
    """``<unique>:2,FS`` -> (unique, {\\Flagged, \\Seen}); unknown letters are ignored."""
    unique, sep, info = entry.partition(INFO_SEP)
    if not sep:
        return entry, frozenset()
    return unique, frozenset(LETTER_FLAGS[c] for c in info if c in LETTER_FLAGS)


def ensure(folder_dir: Path, *, maildirfolder: bool) -> None:
    """Make ``cur/ new/ tmp/`` (and the ``maildirfolder`` marker for non-INBOX folders)."""
    for sub in SUBDIRS:
        (folder_dir / sub).mkdir(parents=True, exist_ok=True)
    if maildirfolder:
        marker = folder_dir / "maildirfolder"
        if not marker.exists():
            marker.touch()


def is_maildir(folder_dir: Path) -> bool:
    return (folder_dir / "cur").is_dir() and (folder_dir / "new").is_dir()


fsync_dir = durable.fsync_dir


def write_tmp(folder_dir: Path, unique: str, data: bytes, sync: bool = True) -> Path:
    """Write ``data`` to ``tmp/<unique>`` and fsync it (``sync=False``: the caller fsyncs it,
    e.g. with ``durable.fsync_files``, before renaming it); returns the temporary path."""
    path = folder_dir / "tmp" / unique
    if sync:
        durable.write_fsynced(path, data)
    else:
        durable.write_file(path, data)
    return path


def replace_durably(path: Path, data: bytes) -> None:
    """Replace the small file ``path`` with ``data`` atomically and durably.

    The temporary file gets a name of its own in the same directory (sessions are
    threads of one process, so a pid is not unique), is fsynced, renamed over
    ``path``, and the directory is fsynced.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        durable.write_fsynced(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    durable.fsync_dir(path.parent)


def dir_mtimes(folder_dir: Path) -> tuple[int, int]:
    """(new/ mtime, cur/ mtime) in nanoseconds; (0, 0) parts for missing directories."""
    return stat_mtimes((os.path.join(folder_dir, "new"), os.path.join(folder_dir, "cur")))


def stat_mtimes(subdirs: tuple[str, str]) -> tuple[int, int]:
    """``dir_mtimes`` for a folder's (new, cur) paths given as strings (each command's refresh: no Path joins)."""
    try:
        new = os.stat(subdirs[0]).st_mtime_ns
    except FileNotFoundError:
        new = 0
    try:
        cur = os.stat(subdirs[1]).st_mtime_ns
    except FileNotFoundError:
        cur = 0
    return new, cur


def to_crlf(raw: bytes) -> bytes:
    """Line ends as CRLF, so the file size is the IMAP RFC822.SIZE and offsets need no translation."""
    if b"\n" not in raw:
        return raw
    if raw.count(b"\n") == raw.count(b"\r\n"):
        return raw
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
