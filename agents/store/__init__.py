"""The message store: Maildir++ per mailbox plus a SQLite index (see docs/internals.md "agents.store").

No Django import at module level: protocol servers and tests use ``Store(root)``
directly; ``default_store()`` and ``retire_mailbox()`` read settings when called.
"""

from __future__ import annotations

from pathlib import Path

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
from .types import Changes, FlagResult, FolderInfo, MessageMeta, MessageSummary

__all__ = [
    "SPECIAL_USE", "Changes", "FlagResult", "Folder", "FolderExists", "FolderInfo", "FolderNotFound",
    "InvalidAddress", "InvalidFlag", "InvalidFolderName", "MailboxStore", "MessageGone", "MessageMeta",
    "MessageSummary", "Store", "StoreError", "default_store", "retire_mailbox",
]  # fmt: skip


def default_store() -> Store:
    """The store at ``settings.MAILAPP_MAIL_ROOT``."""
    from django.conf import settings

    return Store(Path(settings.MAILAPP_MAIL_ROOT))


def retire_mailbox(address: str, mode: Mode = "keep") -> Path:
    """Move a removed mailbox's mail to ``MAILAPP_ARCHIVE_DIR`` (``keep``) or archive it as .tar.gz (``archive``)."""
    from django.conf import settings

    return retire(Path(settings.MAILAPP_MAIL_ROOT), Path(settings.MAILAPP_ARCHIVE_DIR), address, mode)
