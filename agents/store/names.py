"""Folder names: validation, and their Maildir++ directory names on disk.

IMAP names use ``/`` as the hierarchy separator. On disk, folder ``A/B`` is the
directory ``.A.B`` (Maildir++), each segment written in modified UTF-7 as
Dovecot does, so Dovecot and mutt show the same names. Because ``.`` is the
separator on disk, it cannot appear inside a segment (Dovecot's default
Maildir++ layout has the same rule).
"""

from __future__ import annotations

import re

from mailcore import mutf7

from .errors import InvalidFolderName

INBOX = "INBOX"
SEPARATOR = "/"
MAX_DIRNAME_BYTES = 200  # whole ".A.B" directory name; NAME_MAX is 255, keep room for temp names
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f%*\\.]")


def normalize(name: str) -> str:
    """Return the canonical form of a folder name, or raise :class:`InvalidFolderName`.

    ``INBOX`` is case-insensitive (RFC 3501), other names are kept as given.
    Refused: empty names or segments, ``/`` at either end, ``.`` anywhere (which
    also refuses ``..`` and hidden names), control characters, the IMAP
    wildcards ``%`` and ``*``, backslashes, and names too long for one directory.
    """
    if not isinstance(name, str) or not name:
        raise InvalidFolderName("folder name is empty")
    if name.upper() == INBOX:
        return INBOX
    if name.startswith(SEPARATOR) or name.endswith(SEPARATOR):
        raise InvalidFolderName(f"folder name {name!r} may not start or end with '/'")
    segments = name.split(SEPARATOR)
    if segments[0].upper() == INBOX:
        segments[0] = INBOX
    for segment in segments:
        if not segment:
            raise InvalidFolderName(f"folder name {name!r} has an empty level")
        if not segment.strip():
            raise InvalidFolderName(f"folder name {name!r} has a blank level")
        bad = _FORBIDDEN.search(segment)
        if bad:
            raise InvalidFolderName(f"folder name {name!r} contains the forbidden character {bad.group()!r}")
        try:
            segment.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidFolderName(f"folder name {name!r} is not valid Unicode") from exc
    canonical = SEPARATOR.join(segments)
    if len(dirname(canonical, checked=True).encode("ascii")) > MAX_DIRNAME_BYTES:
        raise InvalidFolderName(f"folder name {name[:40]!r}... is too long")
    return canonical


def dirname(name: str, *, checked: bool = False) -> str:
    """The directory (relative to the mailbox) holding folder ``name``; ``""`` for INBOX."""
    if not checked:
        name = normalize(name)
    if name == INBOX:
        return ""
    return "." + ".".join(mutf7.encode(segment) for segment in name.split(SEPARATOR))


def from_dirname(entry: str) -> str | None:
    """The folder name of a Maildir++ directory entry such as ``.A.B``, or None if it is not one."""
    if not entry.startswith(".") or entry in (".", ".."):
        return None
    try:
        name = SEPARATOR.join(mutf7.decode(segment) for segment in entry[1:].split("."))
        canonical = normalize(name)
    except (InvalidFolderName, ValueError):
        return None
    return canonical if dirname(canonical, checked=True) == entry else None


def parent_names(name: str) -> list[str]:
    """``A/B/C`` -> ``["A", "A/B"]``."""
    segments = name.split(SEPARATOR)
    return [SEPARATOR.join(segments[:i]) for i in range(1, len(segments))]
