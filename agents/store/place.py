"""Where a folder lives now, and the row conversions its reads and writes share.

A :class:`FolderPlace` is the one piece of state a :class:`~agents.store.folder.Folder`
and its :class:`~agents.store.writes.FolderWriter` share: the folder's index row id,
its current name and directory (both follow a rename by another session), and the
mailbox's index. Neither side reaches into the other.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from . import flags as flagset
from .errors import FolderNotFound
from .index import Index, open_index
from .types import MessageMeta


class FolderPlace:
    """A folder's identity (index id) and its current name and directory."""

    def __init__(self, mailbox_path: Path, index_path: Path, folder_id: int, name: str, dirname: str) -> None:
        self.mailbox_path = mailbox_path
        self.index_path = index_path
        self.id = folder_id
        self.name = name
        self.path = mailbox_path / dirname if dirname else mailbox_path
        self.subdirs = _subdirs(self.path)

    @property
    def index(self) -> Index:
        """The mailbox's index (one connection per thread, see ``open_index``)."""
        return open_index(self.index_path)

    def follow(self, name: str, dirname: str) -> None:
        """Another session renamed this folder: keep working on it under its new name."""
        if name != self.name:
            self.name = name
            self.path = self.mailbox_path / dirname if dirname else self.mailbox_path
            self.subdirs = _subdirs(self.path)

    def gone(self) -> FolderNotFound:
        return FolderNotFound(f"folder {self.name!r} was deleted")


def _subdirs(path: Path) -> tuple[str, str]:
    """The folder's ``new`` and ``cur`` as strings: every command's refresh stats them (no Path joins per call)."""
    return os.path.join(path, "new"), os.path.join(path, "cur")


def uid_list(uids: Iterable[int]) -> str:
    """UIDs as the JSON array the queries read with ``json_each``."""
    return json.dumps(sorted({int(u) for u in uids}))


def meta_from_row(row: tuple) -> MessageMeta:
    """A MessageMeta from ``uid, flags, size, internaldate, modseq, uniq`` (the first six columns)."""
    return MessageMeta(row[0], flagset.decode(row[1]), row[2], datetime.fromtimestamp(row[3], UTC), row[4], row[5])
