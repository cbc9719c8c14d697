"""The IMAP wire forms of ENVELOPE, BODYSTRUCTURE and BODY, kept in process memory in front of the index.

The index keeps them (``mime_wire``), so a FETCH of envelopes is one query; the newest
messages of a folder are fetched again and again (every client's message list), and a
copy here answers those without a query. No change ever needs to reach this copy: the
key names one message for good — the index file (path and a random name it keeps), the folder's id and
UIDVALIDITY (which grows with every folder made again), the UID (never given twice within
a UIDVALIDITY) and the serialiser's version — and a message's content never changes
under its UID. Only forms the index was given are copied here (read from it, or written to
it successfully; a write skipped because the index was busy is not). A message expunged
meanwhile may stay here: its UID is never given again, so only a session that still shows
it (its EXPUNGE not told yet) may be answered from this copy, as RFC 2180 allows. Bounded
by bytes, least recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

FolderKey = tuple[str, str, int, int]  # index path, the index file's random name, folder id, UIDVALIDITY
Wire = tuple[bytes, bytes, bytes]  # ENVELOPE, BODYSTRUCTURE, BODY

BYTES_KEPT = 16 * 1024 * 1024
ENTRY_OVERHEAD = 200  # the key, the tuple and three bytes objects, roughly

_kept: OrderedDict[tuple[FolderKey, int, int], Wire] = OrderedDict()  # (folder, version, uid) → forms
_size = 0
_lock = threading.Lock()


def _cost(wire: Wire) -> int:
    return len(wire[0]) + len(wire[1]) + len(wire[2]) + ENTRY_OVERHEAD


def lookup(folder: FolderKey, version: int, uids: Iterable[int]) -> tuple[dict[int, Wire], list[int]]:
    """The forms kept for ``uids`` ({uid: forms}) and the UIDs not kept, in the order given."""
    found: dict[int, Wire] = {}
    missing: list[int] = []
    with _lock:
        get, touch = _kept.get, _kept.move_to_end
        for uid in uids:
            key = (folder, version, uid)
            wire = get(key)
            if wire is None:
                missing.append(uid)
            else:
                touch(key)
                found[uid] = wire
    return found, missing


def keep(folder: FolderKey, version: int, rows: Iterable[tuple[int, Wire]]) -> None:
    """Keep forms the index holds; the least recently used go past ``BYTES_KEPT``."""
    global _size
    with _lock:
        for uid, wire in rows:
            key = (folder, version, uid)
            old = _kept.pop(key, None)
            if old is not None:
                _size -= _cost(old)
            _kept[key] = wire
            _size += _cost(wire)
        while _kept and _size > BYTES_KEPT:
            _key, dropped = _kept.popitem(last=False)
            _size -= _cost(dropped)


def forget() -> None:
    """Drop everything kept (tests)."""
    global _size
    with _lock:
        _kept.clear()
        _size = 0


def kept_bytes() -> int:
    return _size
