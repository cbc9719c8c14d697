"""Folders and message lists of the signed-in mailbox, through the store API only.

Every function takes the user's own ``MailboxStore``: a folder or UID from a URL
is only ever looked up inside it, so changing ids in a URL can at worst name a
message of the same user that does not exist (``MessageGone``/``FolderNotFound``).
Lists come from the store's index (``Folder.page``/``summaries``/``search_header``);
the newest-first page never scans the folder.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

from agents.store import Folder, MailboxStore, MessageSummary
from agents.store.errors import FolderNotFound, MessageGone, StoreError

SPECIAL_ORDER = ("INBOX", "Drafts", "Sent", "Junk", "Trash")
SPECIAL = frozenset(SPECIAL_ORDER)
PER_PAGE = 50
SORTS = ("arrival", "date", "from", "to", "subject", "size")
# Each cached header searched costs one index pass (~70 ms on 100,000 messages): the sender
# where mail comes in, the recipients where the user's own mail is kept.
HEADER_SEARCH_FIELDS = ("from", "subject")
OUTGOING_SEARCH_FIELDS = ("to", "cc", "subject")
OUTGOING_FOLDERS = frozenset({"Sent", "Drafts"})
ORDER_CACHE_SECONDS = 300
EVERYWHERE_PER_FOLDER = 500  # newest matches of each folder an all-folders search shows


def is_outgoing(folder: Folder) -> bool:
    """Sent and Drafts hold the user's own mail: their lists show who it went to, not who wrote it."""
    return folder.name in OUTGOING_FOLDERS


def open_mailbox(address: str) -> MailboxStore:
    """The store of ``address`` (created with its special folders on first use)."""
    from agents.store import default_store

    return default_store().mailbox(address)


@dataclass
class FolderRow:
    name: str
    label: str  # last component, for the tree
    depth: int
    special_use: str | None
    exists: int
    unseen: int

    @property
    def is_special(self) -> bool:
        return self.name in SPECIAL


def folder_rows(mailbox: MailboxStore) -> list[FolderRow]:
    """INBOX, Drafts, Sent, Junk, Trash first, then the user's folders in name order, with counts."""
    rows: list[FolderRow] = []
    for info in mailbox.list_folders():
        try:
            folder = mailbox.folder(info.name)
            exists, unseen = folder.exists, folder.unseen
        except StoreError:
            continue
        parts = info.name.split("/")
        rows.append(FolderRow(info.name, parts[-1], len(parts) - 1, info.special_use, exists, unseen))

    def order(row: FolderRow) -> tuple[int, str]:
        top = row.name.split("/")[0]
        rank = SPECIAL_ORDER.index(top) if top in SPECIAL else len(SPECIAL_ORDER)
        return rank, row.name.lower()

    return sorted(rows, key=order)


@dataclass
class Listing:
    """One page of a message list, and what produced it."""

    rows: list[Row]
    total: int
    page: int
    pages: int
    sort: str
    descending: bool
    query: str
    scope: str
    partial: bool = False  # a body search stopped at its limit
    took_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _sort_key(sort: str) -> Any:
    """The order of ``Folder.page(sort=...)`` (case-insensitive text, Date else INTERNALDATE), for search results."""
    if sort == "date":
        return lambda s: (s.date.timestamp() if s.date else s.meta.internaldate.timestamp(), s.uid)
    if sort == "from":
        return lambda s: (s.from_.lower(), s.uid)
    if sort == "to":
        return lambda s: (s.to.lower(), s.uid)
    if sort == "subject":
        return lambda s: (s.subject.lower(), s.uid)
    if sort == "size":
        return lambda s: (s.meta.size, s.uid)
    return lambda s: s.uid


def search_uids(folder: Folder, query: str, scope: str) -> tuple[list[int], bool]:
    """UIDs matching ``query``: cached headers from the index, or (scope "body") also the message text.

    The body search uses the store's full-text index (decoded text parts, HTML as text),
    so it covers every message. Returns (uids, partial); ``partial`` is always False (the
    old body scan read only the newest messages).
    """
    found: set[int] = set()
    for name in OUTGOING_SEARCH_FIELDS if folder.name in OUTGOING_FOLDERS else HEADER_SEARCH_FIELDS:
        found.update(folder.search_header(name, query))
    if scope == "body":
        found.update(folder.search_text(query, body_only=True))
    return sorted(found), False


def listing(
    folder: Folder,
    *,
    page: int = 1,
    sort: str = "arrival",
    descending: bool = True,
    query: str = "",
    scope: str = "headers",
) -> Listing:
    """A page of ``folder``: newest first by default straight from the index."""
    started = time.perf_counter()
    sort = sort if sort in SORTS else "arrival"
    if is_outgoing(folder) and sort == "from":
        sort = "to"
    query = query.strip()[:200]
    page = max(1, page)
    partial = False
    if not query:  # the store pages in SQLite over its index: no file opened, arrival order never scans
        total = folder.exists
        pages = max(1, -(-total // PER_PAGE))
        page = min(page, pages)
        store_sort = "uid" if sort == "arrival" else sort
        rows = folder.page((page - 1) * PER_PAGE, PER_PAGE, newest_first=descending, sort=store_sort)
    else:
        ordered, partial = _ordered_uids(folder, sort, descending, query, scope)
        total = len(ordered)
        pages = max(1, -(-total // PER_PAGE))
        page = min(page, pages)
        chosen = ordered[(page - 1) * PER_PAGE : page * PER_PAGE]
        by_uid = {s.uid: s for s in folder.summaries(chosen)}
        rows = [by_uid[u] for u in chosen if u in by_uid]
    took = (time.perf_counter() - started) * 1000
    return Listing(rows_for(rows, outgoing=is_outgoing(folder)), total, page, pages, sort, descending, query, scope,
                   partial, took)  # fmt: skip


def search_everywhere(mailbox: MailboxStore, query: str, scope: str = "headers", page: int = 1) -> Listing:
    """A search of every folder: the matches, newest first (by Date, else arrival time), each with its folder.

    Each folder contributes its newest ``EVERYWHERE_PER_FOLDER`` matches (``partial``
    says when some were left out). Headers and (scope "body") text both come from the store's indexes.
    """
    started = time.perf_counter()
    query = query.strip()[:200]
    found: list[tuple[MessageSummary, Folder]] = []
    partial = False
    for info in folder_rows(mailbox):
        try:
            folder = mailbox.folder(info.name)
        except StoreError:
            continue
        uids, cut = search_uids(folder, query, scope) if query else ([], False)
        partial = partial or cut or len(uids) > EVERYWHERE_PER_FOLDER
        found.extend((summary, folder) for summary in folder.summaries(uids[-EVERYWHERE_PER_FOLDER:]))
    date_key = _sort_key("date")
    found.sort(key=lambda pair: date_key(pair[0]), reverse=True)
    total = len(found)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    chosen = found[(page - 1) * PER_PAGE : page * PER_PAGE]
    rows = [row for summary, folder in chosen for row in rows_for([summary], outgoing=is_outgoing(folder),
                                                                  folder=folder.name)]  # fmt: skip
    took = (time.perf_counter() - started) * 1000
    return Listing(rows, total, page, pages, "date", True, query, scope, partial, took, extra={"everywhere": True})


@dataclass(frozen=True)
class Row:
    """One line of the message list as the template shows it."""

    summary: MessageSummary
    sender: str  # who the line names: the sender, or (Sent, Drafts) the first recipient; name else address
    seen: bool
    flagged: bool
    deleted: bool  # flagged \Deleted by an IMAP client, not yet expunged
    folder: str = ""  # set in an all-folders search: where the message is
    outgoing: bool = False  # ``sender`` names the recipient


def rows_for(summaries: list[MessageSummary], outgoing: bool = False, folder: str = "") -> list[Row]:
    out = []
    for summary in summaries:
        header = (summary.to or summary.cc) if outgoing else summary.from_
        name, addr = parseaddr(header.split(",")[0])
        flags = summary.meta.flags
        out.append(Row(summary, name or addr or header, "\\Seen" in flags, "\\Flagged" in flags,
                       "\\Deleted" in flags, folder, outgoing))
    return out


def _ordered_uids(folder: Folder, sort: str, descending: bool, query: str, scope: str) -> tuple[list[int], bool]:
    """Every UID matching a search, in display order, remembered while the folder keeps its messages.

    Sorting search results by anything but arrival needs the cached headers of every
    match (index only); the order is kept in the cache under the folder's
    (UIDVALIDITY, UIDNEXT, EXISTS), which any new or removed message changes, so paging
    through results pays the search and sort once. Flag changes do not alter the order.
    """
    from django.core.cache import cache

    state = (str(folder.mailbox.path), folder.name, folder.uidvalidity, folder.uidnext, folder.exists)
    key = "webmail-order:" + hashlib.sha256(repr((state, sort, descending, query, scope)).encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    partial = False
    if query:
        uids, partial = search_uids(folder, query, scope)
    else:
        uids = folder.uids()
    if sort == "arrival":
        ordered = sorted(uids, reverse=descending)
    else:
        summaries = sorted(folder.summaries(uids), key=_sort_key(sort), reverse=descending)
        ordered = [summary.uid for summary in summaries]
    cache.set(key, (ordered, partial), ORDER_CACHE_SECONDS)
    return ordered, partial


# --- actions ------------------------------------------------------------------------------

MARKS = {
    "read": ("\\Seen", "add"),
    "unread": ("\\Seen", "remove"),
    "flag": ("\\Flagged", "add"),
    "unflag": ("\\Flagged", "remove"),
}


def mark(folder: Folder, uids: Iterable[int], action: str) -> None:
    flag, mode = MARKS[action]
    folder.store_flags(list(uids), [flag], mode)


def move(mailbox: MailboxStore, folder: Folder, uids: Iterable[int], dest: str) -> int:
    """Move messages to ``dest`` of the same mailbox; returns how many moved."""
    if dest == folder.name:
        return 0
    target = mailbox.folder(dest)  # FolderNotFound for a name that is not this user's
    uids = list(uids)
    from agents.mailauth.training import record_store_move  # Junk/not-Junk moves train the spam filter

    record_store_move(mailbox.address, folder, uids, target.name, via="webmail")
    return len(folder.move(uids, target))


def delete(mailbox: MailboxStore, folder: Folder, uids: Iterable[int]) -> int:
    """Delete = move to Trash; in Trash itself, remove for good."""
    uids = list(uids)
    if folder.name == "Trash":
        return len(folder.expunge(uids))
    return len(folder.move(uids, mailbox.folder("Trash")))


def empty_trash(mailbox: MailboxStore) -> int:
    trash = mailbox.folder("Trash")
    uids = trash.uids()
    return len(trash.expunge(uids)) if uids else 0


def create_folder(mailbox: MailboxStore, name: str) -> None:
    mailbox.create_folder(_check_name(name))


def rename_folder(mailbox: MailboxStore, old: str, new: str) -> None:
    if old in SPECIAL:
        raise StoreError(f"{old} is a special folder and keeps its name.")
    mailbox.rename_folder(old, _check_name(new))


def delete_folder(mailbox: MailboxStore, name: str) -> None:
    if name in SPECIAL:
        raise StoreError(f"{name} is a special folder and cannot be deleted.")
    mailbox.folder(name)  # FolderNotFound first, with its clear message
    mailbox.delete_folder(name)


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise StoreError("Give the folder a name.")
    if name.split("/")[0].upper() == "INBOX" and name != "INBOX" and "/" not in name:
        raise StoreError("That name is reserved.")
    return name


__all__ = ["FolderNotFound", "MessageGone", "StoreError"]
