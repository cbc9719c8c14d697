"""What an IMAP session talks to, as small typed interfaces (no sockets, no Django).

The session gets an ``Authenticator`` (address, password → ``User`` or None), a
``MailboxOpener`` (address → the store's mailbox) and optionally a ``Notifier``
through its constructor. A ``Selected`` view reaches back to its session only
through ``Owner``. ``Reply`` is what one command produces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agents.store.folder import Folder
from agents.store.types import FolderInfo

from . import parser as p
from . import responses as r


@dataclass(frozen=True)
class User:
    address: str
    quota: int = 0  # bytes, 0 = unlimited
    # Cluster mode: the mailbox lives on another node; the login is refused with where to go.
    elsewhere: str = ""


Authenticator = Callable[[str, str], "User | None"]


class MailboxStore(Protocol):
    """The part of ``agents.store.MailboxStore`` a session uses."""

    @property
    def index_path(self) -> Path: ...
    def list_folders(self) -> list[FolderInfo]: ...
    def create_folder(self, name: str) -> FolderInfo: ...
    def delete_folder(self, name: str) -> None: ...
    def rename_folder(self, old: str, new: str) -> None: ...
    def subscribe(self, name: str, on: bool = True) -> None: ...
    def subscriptions(self) -> list[str]: ...
    def folder(self, name: str, reuse: Folder | None = None) -> Folder: ...
    def usage(self) -> int: ...


MailboxOpener = Callable[[str], MailboxStore]

# (account, source folder, UIDs, destination folder name): a MOVE/COPY about to happen, for the spam
# filter's training when it touches Junk (agents.mailauth.training.record_store_move). Never raises.
JunkTraining = Callable[[str, Folder, list[int], str], object]


class Notifier(Protocol):
    """Tells other sessions of this process that a folder changed (wakes IDLE at once)."""

    def notify(self, address: str, folder: str) -> None: ...


@dataclass
class Reply:
    lines: list[bytes] = field(default_factory=list)
    action: str | None = None  # starttls | idle | logout | authenticate (wants a continuation)
    delay: float = 0.0  # seconds the server waits before sending (a failed login)
    highestmodseq: int | None = None  # QRESYNC: news were sent; the tagged OK tells the MODSEQ they reach

    def ok(self, cmd: p.Command, text: str, code: str | None = None) -> None:
        if code is None and self.highestmodseq is not None:
            code = f"HIGHESTMODSEQ {self.highestmodseq}"
        self.lines.append(r.tagged(cmd.tag, "OK", text, code))

    def no(self, cmd: p.Command, text: str, code: str | None = None) -> None:
        self.lines.append(r.tagged(cmd.tag, "NO", text, code))


class Owner(Protocol):
    """What a selected folder's view needs from its session."""

    condstore: bool  # CONDSTORE enabled (by ENABLE, SELECT (CONDSTORE), or a MODSEQ item)
    junk_training: JunkTraining | None  # given to the session by its constructor
    qresync: bool  # QRESYNC enabled (ENABLE QRESYNC): VANISHED instead of EXPUNGE
    rev2: bool  # IMAP4rev2 enabled (RFC 9051): no \\Recent, SEARCH answered by ESEARCH

    @property
    def user(self) -> User | None: ...
    @property
    def box(self) -> MailboxStore: ...
    def changed(self, folder: str) -> None: ...
