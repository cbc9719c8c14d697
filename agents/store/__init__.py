"""The message store: Maildir++ per mailbox plus a SQLite index (see docs/internals.md "agents.store").

No Django import anywhere in this package (``tests/test_layers.py`` holds it):
protocol servers and tests use ``Store(root)`` directly; ``default_store()`` and
``retire_mailbox()`` ask the ``places`` function the engine's start-up handed to
:func:`configure` (``agents.apps`` gives one that reads the settings when called).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from . import watch
from .errors import (
    FolderExists,
    FolderNotFound,
    InvalidAddress,
    InvalidFlag,
    InvalidFolderName,
    MessageGone,
    StoreError,
)
from .folder import Folder
from .mailbox import SPECIAL_USE, MailboxStore, Store
from .retire import Mode, retire
from .types import Changes, FlagResult, FolderInfo, Listing, MessageMeta, MessageSummary

__all__ = [
    "SPECIAL_USE", "Changes", "FlagResult", "Folder", "FolderExists", "FolderInfo", "FolderNotFound",
    "InvalidAddress", "InvalidFlag", "InvalidFolderName", "Listing", "MailboxStore", "MessageGone", "MessageMeta",
    "MessageSummary", "Places", "Store", "StoreError", "configure", "default_store", "retire_mailbox",
]  # fmt: skip


class Places(NamedTuple):
    mail_root: Path  # settings.MAILAPP_MAIL_ROOT
    archive_dir: Path  # settings.MAILAPP_ARCHIVE_DIR


_places: Callable[[], Places] | None = None


def configure(places: Callable[[], Places], on_usage: watch.UsageListener | None = None) -> None:
    """Say where the live mail and the archive are: ``places()`` is asked on every call below;
    ``on_usage(mailbox directory, bytes)`` hears of size changes made outside deliveries."""
    global _places
    _places = places
    watch.listen(on_usage)


def _where() -> Places:
    if _places is None:
        raise StoreError("the mail store has no root: call agents.store.configure() (Django does, at start-up)")
    return _places()


def default_store() -> Store:
    """The store at ``settings.MAILAPP_MAIL_ROOT``."""
    return Store(_where().mail_root)


def retire_mailbox(address: str, mode: Mode = "keep") -> Path:
    """Move a removed mailbox's mail to ``MAILAPP_ARCHIVE_DIR`` (``keep``) or archive it as .tar.gz (``archive``)."""
    where = _where()
    return retire(where.mail_root, where.archive_dir, address, mode)
