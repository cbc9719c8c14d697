"""Moving a removed mailbox's mail out of the live tree (kept as is, or archived as .tar.gz)."""

from __future__ import annotations

import os
import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from .index import INDEX_NAME, forget
from .mailbox import mailbox_path
from .maildir import fsync_dir

Mode = Literal["keep", "archive"]


def retire(root: Path, archive_dir: Path, address: str, mode: Mode = "keep") -> Path:
    """Move ``address``'s Maildir to ``archive_dir/<domain>/<local>-<UTC time>`` (or a ``.tar.gz`` of it).

    A new mailbox with the same address then starts empty. Returns the path the
    mail went to; if the mailbox has no directory, returns the would-be path.
    """
    if mode not in ("keep", "archive"):
        raise ValueError(f"unknown retire mode {mode!r}")
    source = mailbox_path(root, address)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = archive_dir / source.parent.name
    base = f"{source.name}-{stamp}"
    suffix = ".tar.gz" if mode == "archive" else ""
    target = folder / f"{base}{suffix}"
    counter = 1
    while target.exists():
        target = folder / f"{base}-{counter}{suffix}"
        counter += 1
    if not source.is_dir():
        return target
    forget(source / INDEX_NAME)
    folder.mkdir(parents=True, exist_ok=True)
    if mode == "keep":
        shutil.move(str(source), str(target))
        fsync_dir(folder)
        return target
    partial = target.with_name(target.name + ".part")
    with tarfile.open(partial, "w:gz") as archive:
        archive.add(source, arcname=target.name[: -len(".tar.gz")])
    with open(partial, "rb") as handle:  # on disk before the originals go
        os.fsync(handle.fileno())
    partial.rename(target)
    fsync_dir(folder)
    shutil.rmtree(source)
    return target
