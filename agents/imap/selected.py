"""Selected state: the session's view of one folder (sequence numbers ↔ UIDs) and its commands.

``Selected`` is a state object the session holds while a folder is selected; the
session's command table sends EXPUNGE, STORE, COPY, MOVE, FETCH and SEARCH to it.

The view is a UID list and a meta list kept in step with the index: ``sync`` asks the
store for changes since the last MODSEQ seen and turns them into EXISTS, EXPUNGE and
FETCH FLAGS responses, so two sessions on one folder see each other's changes.
"""

from __future__ import annotations

import bisect
import time
from collections import OrderedDict
from typing import Any

from agents.store.errors import FolderNotFound, MessageGone
from agents.store.folder import Folder
from agents.store.types import Changes, Listing, MessageMeta

from . import fetch
from . import parser as p
from . import responses as r
from .interfaces import Owner, Reply
from .search import BadCharset, Matcher, SearchKey
from .searching import Candidate, set_eval, uses_modseq
from .sequence import SequenceError, format_set

HEADER_CACHED = {"FROM": "from", "TO": "to", "CC": "cc", "SUBJECT": "subject"}
HEADER_CACHED_FIELDS = {"message-id": "message-id", "in-reply-to": "in-reply-to", "from": "from", "to": "to",
                        "cc": "cc", "subject": "subject"}


WIRE_BATCH = 500  # messages whose cached ENVELOPE/BODYSTRUCTURE are read in one query
WARM_SECONDS = 300.0
WARM_KEPT = 8  # the store keeps the listings of this many folders per process (folder.LISTINGS_KEPT)
SMALL_FOLDER = 2000  # listing such a folder cold costs a few milliseconds at most
_warm: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()


def warm(address: str, folder: str) -> bool:
    """True if SELECT of ``folder`` is cheap now: small, or listed lately by this process (the store caches it)."""
    seen = _warm.get((address, folder))
    if seen is None:
        return False
    when, size = seen
    if size <= SMALL_FOLDER:
        return True
    recent = list(_warm)[-WARM_KEPT:]
    return (address, folder) in recent and time.monotonic() - when < WARM_SECONDS


def _mark_warm(address: str, folder: str, size: int) -> None:
    _warm[(address, folder)] = (time.monotonic(), size)
    _warm.move_to_end((address, folder))
    while len(_warm) > 10_000:
        _warm.popitem(last=False)


class Selected:
    """The selected folder and the session's view of it, and the commands that work on that view.

    Made by SELECT/EXAMINE (which claims ``\\Recent`` unless read-only and lists the
    folder from the index); dropped by CLOSE, UNSELECT or another SELECT. It reaches
    its session only through ``owner`` (user, mailbox, CONDSTORE, change notices).
    """

    def __init__(self, owner: Owner, folder: Folder, name: str, readonly: bool) -> None:
        self.owner = owner
        self.folder = folder
        self.name = name
        self.readonly = readonly
        self.recent: frozenset[int] = frozenset() if readonly else folder.claim_recent()
        listing = folder.listing()
        self.modseq = listing.modseq
        # The view starts as the listing the store shares between this process's sessions; it is
        # copied only when this session must differ from it (an expunge it may not report yet).
        self.metas: list[MessageMeta] = listing.metas
        self.uids: list[int] = listing.uids
        self.shared = True
        self.pending_expunge: set[int] = set()
        if owner.user is not None:
            _mark_warm(owner.user.address, name, len(self.metas))

    def ok(self, reply: Reply, cmd: p.Command, text: str, code: str | None = None) -> None:
        reply.ok(cmd, text, code)

    def no(self, reply: Reply, cmd: p.Command, text: str, code: str | None = None) -> None:
        reply.no(cmd, text, code)

    def updates(self, reply: Reply, allow_expunge: bool = True) -> None:
        """Append untagged news about the folder (other sessions' changes)."""
        reply.lines.extend(self.sync(allow_expunge))

    def opening(self, lines: list[bytes]) -> None:
        """The untagged part of the SELECT/EXAMINE response."""
        folder = self.folder
        system = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"
        keywords = " ".join(folder.keywords())
        lines.append(r.untagged(f"FLAGS ({system}{' ' + keywords if keywords else ''})"))
        permanent = "" if self.readonly else system + " \\*"
        lines.append(r.untagged(f"OK [PERMANENTFLAGS ({permanent})] Flags allowed"))
        lines.append(b"* %d EXISTS\r\n" % len(self.uids))
        lines.append(b"* %d RECENT\r\n" % len(self.recent))
        first = folder.first_unseen()
        if first is not None:
            i = self._index_of(first)
            if i is not None:
                lines.append(r.untagged(f"OK [UNSEEN {i + 1}] First unseen"))
        lines.append(r.untagged(f"OK [UIDVALIDITY {folder.uidvalidity}] UIDs valid"))
        lines.append(r.untagged(f"OK [UIDNEXT {folder.uidnext}] Predicted next UID"))
        lines.append(r.untagged(f"OK [HIGHESTMODSEQ {self.modseq}] Highest"))

    # --- keeping the view current --------------------------------------------------------

    def sync(self, allow_expunge: bool = True) -> list[bytes]:
        """Untagged updates for changes made since the last sync (by anyone)."""
        folder = self.folder
        highest = folder.refresh()
        if highest == self.modseq and not (allow_expunge and self.pending_expunge):
            return []
        if allow_expunge or not self.pending_expunge:
            listing, changes = folder.catch_up(self.modseq)
            if allow_expunge or not changes.expunged:
                return self._adopt(listing, changes)
        else:
            changes = folder.changes_since(self.modseq)
        self._own()
        out: list[bytes] = []
        self.pending_expunge.update(u for u in changes.expunged if self._index_of(u) is not None)
        if allow_expunge and self.pending_expunge:
            for uid in sorted(self.pending_expunge):
                i = self._index_of(uid)
                if i is not None:
                    del self.metas[i], self.uids[i]
                    out.append(b"* %d EXPUNGE\r\n" % (i + 1))
            self.pending_expunge.clear()
        last = self.uids[-1] if self.uids else 0
        added = False
        for meta in changes.changed:
            if meta.uid > last:
                self.metas.append(meta)
                self.uids.append(meta.uid)
                last = meta.uid
                added = True
                continue
            i = self._index_of(meta.uid)
            if i is None:
                continue
            old = self.metas[i]
            self.metas[i] = meta
            if old.flags != meta.flags and meta.uid not in self.pending_expunge:
                out.append(self._flags_line(i))
        if added:
            out.append(b"* %d EXISTS\r\n" % len(self.uids))
            out.append(b"* %d RECENT\r\n" % len(self.recent))
        self.modseq = max(highest, self.modseq)
        return out

    def _adopt(self, listing: Listing, changes: Changes) -> list[bytes]:
        """Move the view to the store's newer (shared) listing, reporting what ``changes`` did to it.

        The view is the listing at ``self.modseq`` plus changes the session made itself, and
        minus nothing but ``pending_expunge``; those go now too. Costs what changed, not the
        folder's size: EXPUNGE numbers come from binary searches in the old view, FETCH
        FLAGS lines from the new one (none for a change the view already shows).
        """
        out: list[bytes] = []
        old_uids, old_metas = self.uids, self.metas
        removed = 0
        gone = sorted(self.pending_expunge.union(changes.expunged))
        self.pending_expunge.clear()
        for uid in gone:  # ascending: each EXPUNGE numbers the view after the ones before
            i = bisect.bisect_left(old_uids, uid)
            if i < len(old_uids) and old_uids[i] == uid:
                out.append(b"* %d EXPUNGE\r\n" % (i + 1 - removed))
                removed += 1
        self.metas, self.uids, self.shared = listing.metas, listing.uids, True
        last = old_uids[-1] if old_uids else 0
        for meta in changes.changed:
            if meta.uid > last:
                continue
            i = bisect.bisect_left(old_uids, meta.uid)
            if i < len(old_uids) and old_uids[i] == meta.uid and old_metas[i].flags != meta.flags:
                j = self._index_of(meta.uid)
                if j is not None:
                    out.append(self._flags_line(j))
        if len(self.uids) != len(old_uids) - removed:
            out.append(b"* %d EXISTS\r\n" % len(self.uids))
            out.append(b"* %d RECENT\r\n" % len(self.recent))
        self.modseq = max(listing.modseq, self.modseq)
        return out

    def _own(self) -> None:
        """Give this session a view of its own before changing it (copy on write of the shared listing)."""
        if self.shared:
            self.metas, self.uids, self.shared = list(self.metas), list(self.uids), False

    def _set_meta(self, i: int, meta: MessageMeta) -> None:
        if self.metas[i] is not meta:
            self._own()
            self.metas[i] = meta

    def _index_of(self, uid: int) -> int | None:
        i = bisect.bisect_left(self.uids, uid)
        return i if i < len(self.uids) and self.uids[i] == uid else None

    def _flags_line(self, i: int) -> bytes:
        meta = self.metas[i]
        shown = meta.flags | {"\\Recent"} if meta.uid in self.recent else meta.flags
        extra = b" MODSEQ (%d)" % meta.modseq if self.owner.condstore else b""
        return b"* %d FETCH (UID %d FLAGS %s%s)\r\n" % (i + 1, meta.uid, r.flags(shown), extra)

    def _targets(self, cmd: p.Fetch | p.Store | p.Copy | p.Expunge) -> list[int]:
        """0-based view indexes named by a command's sequence set (UIDs or sequence numbers)."""
        sequence = cmd.sequence
        if sequence is None:
            raise p.ParseError("missing sequence set")
        if cmd.uid:
            return sequence.uids(self.uids)
        try:
            return [s - 1 for s in sequence.seqs(len(self.uids))]
        except SequenceError as exc:
            raise p.ParseError(str(exc)) from exc

    # --- EXPUNGE / STORE / COPY / MOVE -----------------------------------------------------

    def cmd_expunge(self, cmd: p.Expunge, reply: Reply) -> None:
        if self.readonly:
            self.no(reply, cmd, "Folder is read-only", "READ-ONLY")
            return
        if cmd.uid:
            uids = [self.uids[i] for i in self._targets(cmd)]
            removed = self.folder.expunge(uids, deleted_only=True) if uids else []
        else:
            removed = self.folder.expunge()
        if removed:
            self.owner.changed(self.name)
        self.updates(reply)
        self.ok(reply, cmd, "EXPUNGE completed")

    def cmd_store(self, cmd: p.Store, reply: Reply) -> None:
        if self.readonly:
            self.no(reply, cmd, "Folder is read-only", "READ-ONLY")
            return
        targets = self._targets(cmd)
        self.updates(reply, allow_expunge=cmd.uid)
        targets = self._targets(cmd) if cmd.uid else targets
        uids = [self.uids[i] for i in targets if i < len(self.uids)]
        if cmd.unchangedsince is not None:
            self.owner.condstore = True
        mode = {"replace": "set", "add": "add", "remove": "remove"}[cmd.mode]
        flags = [f for f in cmd.flags if f != "\\Recent"]
        result = self.folder.store_flags(uids, flags, mode, cmd.unchangedsince) if uids else []
        for meta in result:
            i = self._index_of(meta.uid)
            if i is None:
                continue
            changed = self.metas[i].flags != meta.flags or self.metas[i].modseq != meta.modseq
            self._set_meta(i, meta)
            if not cmd.silent or (self.owner.condstore and changed):
                reply.lines.append(self._flags_line(i))
        if result:
            self.owner.changed(self.name)
        modified = getattr(result, "modified", [])
        if modified:
            if cmd.uid:
                code = f"MODIFIED {format_set(modified)}"
            else:
                seqs = [i + 1 for i in (self._index_of(u) for u in modified) if i is not None]
                code = f"MODIFIED {format_set(seqs)}"
            self.ok(reply, cmd, "Conditional STORE failed for some messages", code)
            return
        self.ok(reply, cmd, "STORE completed")

    def cmd_copy(self, cmd: p.Copy, reply: Reply) -> None:
        targets = self._targets(cmd)
        uids = [self.uids[i] for i in targets]
        move = cmd.name == "MOVE"
        if move and self.readonly:
            self.no(reply, cmd, "Folder is read-only", "READ-ONLY")
            return
        if self.owner.user and self.owner.user.quota and not move:
            size = sum(self.metas[i].size for i in targets)
            if self.owner.box.usage() + size > self.owner.user.quota:
                self.no(reply, cmd, "Mailbox is over quota", "OVERQUOTA")
                return
        try:
            dest = self.owner.box.folder(cmd.mailbox)
        except FolderNotFound:
            self.no(reply, cmd, "No such folder", "TRYCREATE")
            return
        if not uids:
            self.ok(reply, cmd, f"{cmd.name} completed (nothing to do)")
            return
        self._record_junk_training(uids, dest.name)
        mapping = (self.folder.move if move else self.folder.copy)(uids, dest)
        self.owner.changed(cmd.mailbox)
        code = None
        if mapping:
            src = sorted(mapping)
            code = f"COPYUID {dest.uidvalidity} {format_set(src)} {format_set([mapping[u] for u in src])}"
        if move:
            self.owner.changed(self.name)
            if code:
                reply.lines.append(r.untagged(f"OK [{code}] Moved"))
            self.updates(reply)
            self.ok(reply, cmd, "MOVE completed")
        else:
            self.updates(reply, allow_expunge=cmd.uid)
            self.ok(reply, cmd, "COPY completed", code)

    cmd_move = cmd_copy

    def _record_junk_training(self, uids: list[int], destination: str) -> None:
        """A user filing mail into Junk (or out of it) teaches the spam checker, through the
        callback the session was given (it decides whether the move touches Junk)."""
        train = self.owner.junk_training
        if train is None or self.owner.user is None:
            return
        train(self.owner.user.address, self.folder, uids, destination)

    # --- FETCH -----------------------------------------------------------------------------

    def cmd_fetch(self, cmd: p.Fetch, reply: Reply) -> None:
        self.updates(reply, allow_expunge=cmd.uid)
        targets = self._targets(cmd)
        if cmd.changedsince is not None or any(i.name == "MODSEQ" for i in cmd.items):
            self.owner.condstore = True
        items = cmd.items
        sets_seen = not self.readonly and any(i.sets_seen for i in items)
        if sets_seen:
            unseen = [self.uids[i] for i in targets if "\\Seen" not in self.metas[i].flags]
            if unseen:
                for meta in self.folder.store_flags(unseen, ["\\Seen"], "add"):
                    j = self._index_of(meta.uid)
                    if j is not None:
                        self._set_meta(j, meta)
                self.owner.changed(self.name)
                if not any(i.name == "FLAGS" for i in items):
                    items = items + (p.FetchItem("FLAGS"),)
        lines = reply.lines
        folder = self.folder
        with_modseq = self.owner.condstore
        if {i.name for i in items} <= {"FLAGS", "UID"} and cmd.changedsince is None:
            self._fetch_flags(targets, lines, with_uid=cmd.uid or any(i.name == "UID" for i in items),
                              with_flags=any(i.name == "FLAGS" for i in items))
            self.ok(reply, cmd, "FETCH completed")
            return
        metas, changedsince, pending, recent = self.metas, cmd.changedsince, self.pending_expunge, self.recent
        with_wire = fetch.needs_wire(items)
        for start in range(0, len(targets), WIRE_BATCH):
            batch = [i for i in targets[start : start + WIRE_BATCH]
                     if (changedsince is None or metas[i].modseq > changedsince) and metas[i].uid not in pending]
            wire = fetch.WireCache(folder, [metas[i].uid for i in batch]) if with_wire and batch else None
            for i in batch:
                meta = metas[i]
                try:
                    lines.append(fetch.render(i + 1, meta, items, folder, with_uid=cmd.uid, with_modseq=with_modseq,
                                              recent=meta.uid in recent, wire=wire))
                except MessageGone:
                    continue
                except ValueError as exc:
                    raise p.ParseError(str(exc)) from exc
            if wire is not None:
                wire.save()
        self.ok(reply, cmd, "FETCH completed")

    def _fetch_flags(self, targets: list[int], lines: list[bytes], *, with_uid: bool, with_flags: bool) -> None:
        """The hot path of ``FETCH 1:* (FLAGS)``: index data only, one format per message."""
        metas, recent, pending, condstore = self.metas, self.recent, self.pending_expunge, self.owner.condstore
        text = _FlagText()
        if with_uid and with_flags and not condstore and not pending:
            fmt = b"* %d FETCH (UID %d FLAGS %s)\r\n"
            if targets and targets[-1] - targets[0] + 1 == len(targets):  # a contiguous run, e.g. 1:*
                pairs: Any = enumerate(metas[targets[0] : targets[-1] + 1], targets[0] + 1)
            else:
                pairs = ((i + 1, metas[i]) for i in targets)
            if recent:
                lines.extend([fmt % (seq, m[0], text[m[1] | {"\\Recent"} if m[0] in recent else m[1]])
                              for seq, m in pairs])
            else:
                lines.extend([fmt % (seq, m[0], text[m[1]]) for seq, m in pairs])
            return
        for i in targets:
            meta = metas[i]
            uid = meta.uid
            if pending and uid in pending:
                continue
            parts = []
            if with_uid:
                parts.append(b"UID %d" % uid)
            if with_flags:
                parts.append(b"FLAGS " + text[meta.flags | {"\\Recent"} if recent and uid in recent else meta.flags])
            if condstore:
                parts.append(b"MODSEQ (%d)" % meta.modseq)
            lines.append(b"* %d FETCH (%s)\r\n" % (i + 1, b" ".join(parts)))

    # --- SEARCH ----------------------------------------------------------------------------

    def cmd_search(self, cmd: p.Search, reply: Reply) -> None:
        self.updates(reply, allow_expunge=cmd.uid)
        criteria = cmd.criteria or SearchKey("ALL")
        try:
            matcher = Matcher(criteria, cmd.charset, len(self.uids), self.uids[-1] if self.uids else 0)
            hits = self._header_hits(criteria, matcher)
        except BadCharset:
            self.no(reply, cmd, "Unsupported charset", "BADCHARSET (UTF-8 US-ASCII)")
            return
        matcher.hits = hits
        quick = set_eval(criteria, hits or {}, self.uids)
        if quick is not None:  # answered from the index alone, without a per-message loop
            found = [u if cmd.uid else i + 1 for u, i in ((u, self._index_of(u)) for u in sorted(quick))
                     if i is not None]
            reply.lines.append(r.untagged(b"SEARCH" + b"".join(b" %d" % n for n in found)))
            self.ok(reply, cmd, "SEARCH completed")
            return
        found = []
        highest = 0
        cand = Candidate(self.folder)
        for i, meta in enumerate(self.metas):
            cand.reset(i + 1, meta, meta.uid in self.recent)
            try:
                if matcher.match(cand):
                    found.append(meta.uid if cmd.uid else i + 1)
                    highest = max(highest, meta.modseq)
            except BadCharset:
                self.no(reply, cmd, "Search text is not in the given charset", "BADCHARSET (UTF-8 US-ASCII)")
                return
        text = b"SEARCH" + b"".join(b" %d" % n for n in found)
        if found and uses_modseq(criteria):
            text += b" (MODSEQ %d)" % highest
        reply.lines.append(r.untagged(text))
        self.ok(reply, cmd, "SEARCH completed")

    def _header_hits(self, key: SearchKey, matcher: Matcher) -> dict[SearchKey, set[int]] | None:
        """Answer FROM/TO/CC/SUBJECT (and a few HEADER fields) from the index's cached headers."""
        hits: dict[SearchKey, set[int]] = {}

        def walk(k: SearchKey) -> None:
            if k.op in HEADER_CACHED:
                hits[k] = set(self.folder.search_header(HEADER_CACHED[k.op], matcher.text(k.args[0])))
            elif k.op == "HEADER" and k.args[0] in HEADER_CACHED_FIELDS and k.args[1]:
                hits[k] = set(self.folder.search_header(HEADER_CACHED_FIELDS[k.args[0]], matcher.text(k.args[1])))
            elif k.op in ("AND", "OR", "NOT"):
                for sub in k.args:
                    walk(sub)

        walk(key)
        return hits or None


class _FlagText(dict):
    """frozenset of flags → its wire form, computed once per distinct set (a folder has few)."""

    def __missing__(self, flags: frozenset[str]) -> bytes:
        value = self[flags] = r.flags(flags)
        return value
