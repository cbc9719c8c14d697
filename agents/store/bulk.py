"""Batch writes for imports: many messages, one sync, then the index adopts them.

``MailboxStore.deliver`` makes every message durable on its own (three fsyncs, about
15 ms), which is right for delivery and far too slow for migrating a 1 GB mbox.
A batch writer puts files into a folder's Maildir the way any Maildir writer does
(``tmp/`` then ``cur/``, flags in the ``:2,`` info, the internal date as the file's
mtime), makes a whole batch durable with one sync, and then lets the folder's
``refresh()`` index the new files (UIDs follow the file names' leading number, so
the import order). It lives in the store so that the store stays the only code
that writes in the mail directories.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

from . import maildir as maildir_names
from .errors import FolderExists, FolderNotFound


class ImportItem(Protocol):
    @property
    def raw(self) -> bytes: ...
    @property
    def flags(self) -> Any: ...
    @property
    def date(self) -> float: ...
    @property
    def key(self) -> str: ...


class BulkWriter:
    """Writes imported messages into one folder of a mailbox, durably per batch."""

    def __init__(self, box, folder_name: str, source: str) -> None:  # type: ignore[no-untyped-def]
        try:
            self.folder = box.folder(folder_name)
        except FolderNotFound:
            try:
                box.create_folder(folder_name)
            except FolderExists:
                pass
            self.folder = box.folder(folder_name)
        self.path: Path = self.folder.path
        self.source = source
        self.present = {name.partition(maildir_names.INFO_SEP)[0].split(",S=")[0]
                        for sub in ("new", "cur") for name in os.listdir(self.path / sub)}
        self.pending = 0

    def unique(self, position: int, key: str) -> str:
        digest = hashlib.sha256(f"{self.source}\0{key}".encode("utf-8", "surrogateescape")).hexdigest()[:24]
        return f"{position}.I{digest}.mailapp-import"  # the leading number orders UIDs as in the source

    def add(self, position: int, item: ImportItem) -> bool:
        """Write one message (not yet synced); False if an earlier run already stored it."""
        unique = self.unique(position, item.key)
        if unique in self.present:
            return False
        data = maildir_names.to_crlf(item.raw)
        name = f"{unique},S={len(data)}{maildir_names.INFO_SEP}{maildir_names.letters(set(item.flags))}"
        tmp = self.path / "tmp" / name
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.utime(tmp, (item.date, item.date))
        os.rename(tmp, self.path / "cur" / name)
        self.present.add(unique)
        self.pending += 1
        return True

    def commit(self) -> None:
        """Make the written files durable, then let the store index them."""
        if self.pending:
            os.sync()  # one flush for the whole batch (per-file fsync would cost ~10 ms a message)
            self.folder.refresh()
            self.pending = 0
