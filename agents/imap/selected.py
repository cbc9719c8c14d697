"""Selected state: the session's view of one folder (sequence numbers ↔ UIDs) and its commands.

``Selected`` is a state object the session holds while a folder is selected; the
session's command table sends EXPUNGE, STORE, COPY, MOVE, FETCH and SEARCH to it.

The view is a UID list and a meta list kept in step with the index: ``sync`` asks the
store for changes since the last MODSEQ seen and turns them into EXISTS, EXPUNGE and
FETCH FLAGS responses, so two sessions on one folder see each other's changes.
"""

from __future__ import annotations

import bisect
import operator
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from agents.store.errors import FolderNotFound, MessageGone
from agents.store.folder import Folder
from agents.store.types import Changes, Listing, MessageMeta

from . import fetch, sorting
from . import parser as p
from . import responses as r
from .interfaces import Owner, Reply
from .mime import UnknownCte
from .search import FLAG_KEYS, BadCharset, Matcher, SearchKey
from .searching import Candidate, set_eval, uses_modseq
from .sequence import SequenceError, SequenceSet, format_set

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
# The keywords RFC 9051 §2.3.2 names for every server (the spam ones are what mail clients' junk buttons set);
# an IMAP4rev2 session is told them in FLAGS and PERMANENTFLAGS from the start.
REV2_KEYWORDS = ("$Forwarded", "$Junk", "$MDNSent", "$NotJunk", "$Phishing")
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


MAX_UPDATE_CONTEXTS = 5  # SEARCH RETURN (UPDATE) results kept per session; more get NO [NOUPDATE]


@dataclass
class UpdateContext:
    """A SEARCH RETURN (UPDATE) kept up to date: its criteria and the UIDs the client was told."""

    criteria: SearchKey
    charset: str | None
    uid: bool
    uids: set[int]


class Selected:
    """The selected folder and the session's view of it, and the commands that work on that view.

    Made by SELECT/EXAMINE (which lists the folder from the index); dropped by CLOSE,
    UNSELECT or another SELECT. It reaches its session only through ``owner`` (user,
    mailbox, CONDSTORE/QRESYNC, change notices).

    ``\\Recent`` (RFC 3501 §2.3.2): a read-write view claims the messages it is told of
    (at SELECT, then at each sync that brings new ones), so each is recent in one session
    only; a read-only view claims nothing and shows as recent what nobody had claimed when
    it was told of it. ``recent`` is always a subset of the view, so ``* n RECENT`` never
    exceeds the EXISTS the client was told; it is sent when the count changes (as Dovecot).

    Keywords: ``announced`` holds the keywords told in the last untagged FLAGS; every
    change to the view that brings a new one sends FLAGS and PERMANENTFLAGS first, so no
    FETCH shows a keyword the client was not told of.
    """

    def __init__(self, owner: Owner, folder: Folder, name: str, readonly: bool) -> None:
        self.owner = owner
        self.folder = folder
        self.name = name
        self.readonly = readonly
        listing = folder.listing(folder.refresh())  # first_recent and UIDNEXT as of now, and the listing
        self.modseq = listing.modseq
        # The view starts as the listing the store shares between this process's sessions; it is
        # copied only when this session must differ from it (``_own``: an expunge it may not report
        # yet, a flag change it made).
        self.metas: list[MessageMeta] = listing.metas
        self.uids: list[int] = listing.uids
        self.shared = True
        self.listing: Listing | None = listing  # held while shared: the store finds it again (folder._held)
        last = self.uids[-1] if self.uids else 0
        if owner.rev2:  # no \\Recent in IMAP4rev2: nothing shown, nothing claimed (rev1 sessions keep theirs)
            self.recent: set[int] = set()
        elif readonly:
            self.recent = set(self.uids[bisect.bisect_left(self.uids, folder.first_recent):])
        else:  # a write: only when something is left to claim (the snapshot was just refreshed)
            self.recent = set(folder.claim_recent(last)) if last >= folder.first_recent else set()
        self.told_recent = len(self.recent)
        self.announced: set[str] = set(folder.keywords())  # read after the listing: holds all its keywords
        if owner.rev2:
            self.announced.update(REV2_KEYWORDS)
        self.pending_expunge: set[int] = set()
        self.saved: frozenset[int] = frozenset()  # UIDs of the last SEARCH RETURN (SAVE) (RFC 5182 "$")
        self.contexts: dict[str, UpdateContext] = {}  # SEARCH RETURN (UPDATE) results kept up to date (RFC 5267)
        if owner.user is not None:
            _mark_warm(owner.user.address, name, len(self.metas))

    def ok(self, reply: Reply, cmd: p.Command, text: str, code: str | None = None) -> None:
        reply.ok(cmd, text, code)

    def no(self, reply: Reply, cmd: p.Command, text: str, code: str | None = None) -> None:
        reply.no(cmd, text, code)

    def updates(self, reply: Reply, allow_expunge: bool = True) -> None:
        """Append untagged news about the folder (other sessions' changes).

        Under QRESYNC the tagged OK then carries ``[HIGHESTMODSEQ n]`` (RFC 7162 §3.2.10), as Dovecot's does.
        """
        news = self.sync(allow_expunge)
        reply.lines.extend(news)
        if news and self.owner.qresync:
            reply.highestmodseq = self.modseq

    def forget_recent(self) -> None:
        """IMAP4rev2 was enabled while this view was open: no more \\Recent nor RECENT from now on."""
        self.recent = set()
        self.told_recent = 0

    def opening(self, lines: list[bytes]) -> None:
        """The untagged part of the SELECT/EXAMINE response (IMAP4rev2: no RECENT and no [UNSEEN],
        RFC 9051 §6.3.2; the session adds the folder's LIST)."""
        folder = self.folder
        rev2 = self.owner.rev2
        lines.extend(self._flag_lines())
        lines.append(b"* %d EXISTS\r\n" % len(self.uids))
        if not rev2:
            lines.append(b"* %d RECENT\r\n" % len(self.recent))
        first = None if rev2 else folder.first_unseen()
        if first is not None:
            i = self._index_of(first)
            if i is not None:
                lines.append(r.untagged(f"OK [UNSEEN {i + 1}] First unseen"))
        lines.append(r.untagged(f"OK [UIDVALIDITY {folder.uidvalidity}] UIDs valid"))
        lines.append(r.untagged(f"OK [UIDNEXT {folder.uidnext}] Predicted next UID"))
        lines.append(r.untagged(f"OK [HIGHESTMODSEQ {self.modseq}] Highest"))

    def resync(self, lines: list[bytes], modseq: int, known: SequenceSet | None) -> None:
        """QRESYNC at SELECT (RFC 7162 §3.2.5): what vanished and what changed since ``modseq``.

        ``known`` (the client's known UIDs) narrows VANISHED (EARLIER); the optional
        sequence match data is not needed, as the store keeps every expunged UID.
        """
        changes = self.folder.changes_since(modseq)
        largest = max(self.folder.uidnext - 1, 1)
        gone = [u for u in changes.expunged
                if self._index_of(u) is None and (known is None or known.contains_uid(u, largest))]
        if gone:
            lines.append(b"* VANISHED (EARLIER) " + format_set(gone).encode() + b"\r\n")
        for meta in changes.changed:
            i = self._index_of(meta.uid)
            if i is not None and self.metas[i].modseq > modseq:
                lines.append(self._flags_line(i))

    def _flag_lines(self) -> list[bytes]:
        """Untagged FLAGS and PERMANENTFLAGS with the announced keywords."""
        known = " ".join([*SYSTEM_FLAGS, *sorted(self.announced)])
        permanent = "" if self.readonly else known + " \\*"
        return [r.untagged(f"FLAGS ({known})"), r.untagged(f"OK [PERMANENTFLAGS ({permanent})] Flags permitted")]

    def _announce(self, metas: Iterable[MessageMeta], folder_keywords: Iterable[str] = ()) -> list[bytes]:
        """FLAGS and PERMANENTFLAGS if ``metas`` (about to enter the view) or the folder's keyword list
        hold a keyword not yet told."""
        new = {f for m in metas for f in m.flags if not f.startswith("\\")}.union(folder_keywords) - self.announced
        if not new:
            return []
        self.announced |= new
        return self._flag_lines()

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
                adopted = self._adopt(listing, changes)
                if adopted is not None:
                    return adopted
        else:
            changes = folder.changes_since(self.modseq)
        self._own()
        out: list[bytes] = []
        self.pending_expunge.update(u for u in changes.expunged if self._index_of(u) is not None)
        if allow_expunge and self.pending_expunge:
            out.extend(self._context_removals(self.pending_expunge))  # numbered before the EXPUNGEs, as Dovecot does
            out.extend(self._expunged(sorted(self.pending_expunge)))
            self.pending_expunge.clear()
        last = self.uids[-1] if self.uids else 0
        added: list[MessageMeta] = []
        flagged: list[int] = []
        for meta in changes.changed:
            if meta.uid > last:
                added.append(meta)
                last = meta.uid
                continue
            i = self._index_of(meta.uid)
            if i is None:
                continue
            old = self.metas[i]
            self.metas[i] = meta
            if old.flags != meta.flags and meta.uid not in self.pending_expunge:
                flagged.append(meta.uid)
        if added:
            self.metas.extend(added)
            self.uids.extend(m.uid for m in added)
        out.extend(self._news(changes, added, flagged))
        self.modseq = max(highest, self.modseq)
        if self.contexts and (changes.changed or changes.expunged):
            out.extend(self._context_changes())
        return out

    def _news(self, changes: Changes, added: list[MessageMeta], flagged: list[int]) -> list[bytes]:
        """After the view took ``added`` in: FLAGS for new keywords, EXISTS, RECENT (claiming what
        the session is now told of) and FETCH FLAGS for ``flagged``, in Dovecot's order."""
        folder = self.folder
        out = self._announce(changes.changed, folder.keywords())
        if added:
            last = added[-1].uid
            if self.owner.rev2:
                pass  # nothing is recent in IMAP4rev2, and nothing is claimed
            elif self.readonly:
                self.recent.update(m.uid for m in added if m.uid >= folder.first_recent)
            elif last >= folder.first_recent:  # NOOP runs inline: write only if there is something to claim
                self.recent.update(u for u in folder.claim_recent(last) if self._index_of(u) is not None)
            out.append(b"* %d EXISTS\r\n" % len(self.uids))
        if len(self.recent) != self.told_recent:
            self.told_recent = len(self.recent)
            out.append(b"* %d RECENT\r\n" % self.told_recent)
        out.extend(self._flags_line(i) for i in (self._index_of(u) for u in flagged) if i is not None)
        return out

    # --- CONTEXT=SEARCH ---------------------------------------------------------------------

    def _number(self, ctx: UpdateContext, uids: list[int]) -> list[int]:
        return uids if ctx.uid else [i + 1 for i in (self._index_of(u) for u in uids) if i is not None]

    def _context_removals(self, gone: set[int]) -> list[bytes]:
        """REMOVEFROM for messages about to be reported expunged (sequence numbers still valid)."""
        out = []
        for tag, ctx in self.contexts.items():
            hits = sorted(u for u in gone if u in ctx.uids)
            if hits:
                ctx.uids.difference_update(hits)
                out.append(r.esearch_update(tag, ctx.uid, "REMOVEFROM", self._number(ctx, hits)))
        return out

    def _context_changes(self) -> list[bytes]:
        """ADDTO and REMOVEFROM for each kept search whose result changed (the search runs again; at most
        MAX_UPDATE_CONTEXTS of them, only when the folder changed)."""
        out = []
        for tag, ctx in self.contexts.items():
            try:
                found, _highest = self._matching(ctx.criteria, ctx.charset)
            except BadCharset:
                continue
            now = {self.uids[i] for i in found} - self.pending_expunge
            removed = sorted(ctx.uids - now - self.pending_expunge)
            added = sorted(now - ctx.uids)
            ctx.uids = now | (ctx.uids & self.pending_expunge)
            if removed:
                out.append(r.esearch_update(tag, ctx.uid, "REMOVEFROM", self._number(ctx, removed)))
            if added:
                out.append(r.esearch_update(tag, ctx.uid, "ADDTO", self._number(ctx, added)))
        return out

    def cmd_cancelupdate(self, cmd: p.CancelUpdate, reply: Reply) -> None:
        if any(tag not in self.contexts for tag in cmd.tags):
            self.no(reply, cmd, "Unknown tag")
            return
        for tag in cmd.tags:
            del self.contexts[tag]
        self.ok(reply, cmd, "Updates cancelled")

    def _expunged(self, uids: list[int]) -> list[bytes]:
        """Drop ``uids`` from the view: EXPUNGE responses (highest first, as Dovecot), or one VANISHED with QRESYNC."""
        out: list[bytes] = []
        gone: list[int] = []
        for uid in sorted(uids, reverse=True):
            i = self._index_of(uid)
            if i is None:
                continue
            self._own()
            del self.metas[i], self.uids[i]
            self.recent.discard(uid)
            gone.append(uid)
            out.append(b"* %d EXPUNGE\r\n" % (i + 1))
        if self.owner.qresync:
            return [b"* VANISHED " + format_set(gone).encode() + b"\r\n"] if gone else []
        return out

    def _adopt(self, listing: Listing, changes: Changes) -> list[bytes] | None:
        """Move the view to the store's newer (shared) listing, reporting what ``changes`` did to it.

        The view is the listing at ``self.modseq`` plus changes the session made itself, and
        minus nothing but ``pending_expunge``; those go now too. The responses are those of the
        copying path in ``sync`` (same order: REMOVEFROM, EXPUNGE highest first or VANISHED,
        FLAGS, EXISTS, RECENT, FETCH FLAGS, ADDTO/REMOVEFROM), but it costs what changed, not
        the folder's size: EXPUNGE numbers come from binary searches in the old view. Returns
        None, having changed nothing, if the listing is not the old view with ``changes``
        applied (then the caller takes the copying path).
        """
        old_uids, old_metas = self.uids, self.metas
        last = old_uids[-1] if old_uids else 0
        leaving = self.pending_expunge.union(changes.expunged)
        places = sorted((i, u) for i, u in ((self._index_of(u), u) for u in leaving) if i is not None)
        gone = [u for _i, u in places]
        added = [m for m in changes.changed if m.uid > last]
        if len(listing.uids) != len(old_uids) - len(gone) + len(added):
            return None
        out: list[bytes] = []
        if gone:
            out.extend(self._context_removals(set(gone)))  # numbered in the old view, before the EXPUNGEs
            if not self.owner.qresync:  # highest first, as Dovecot: each number is its place in the old view
                out.extend(b"* %d EXPUNGE\r\n" % (i + 1) for i, _u in reversed(places))
            else:
                out.append(b"* VANISHED " + format_set(gone).encode() + b"\r\n")
            self.recent.difference_update(gone)
        self.pending_expunge.clear()
        flagged: list[int] = []
        for meta in changes.changed:
            if meta.uid > last:
                break  # changes are in UID order: the rest are new
            i = bisect.bisect_left(old_uids, meta.uid)
            if i < len(old_uids) and old_uids[i] == meta.uid and old_metas[i].flags != meta.flags:
                flagged.append(meta.uid)
        self.metas, self.uids, self.shared, self.listing = listing.metas, listing.uids, True, listing
        out.extend(self._news(changes, added, flagged))
        self.modseq = max(listing.modseq, self.modseq)
        if self.contexts and (changes.changed or changes.expunged):
            out.extend(self._context_changes())
        return out

    def _took_own(self, metas: list[MessageMeta]) -> None:
        """After this session's own flag change, put into the view: if it was the only change to the folder
        since the view's MODSEQ (its write took the very next MODSEQ), the view now is the folder at that
        MODSEQ, and the next command need not catch up with a change it already shows. Not with a search
        kept up to date (CONTEXT=SEARCH): its ADDTO/REMOVEFROM for this change come from that catch-up."""
        top = max((m.modseq for m in metas), default=0)
        if top == self.modseq + 1 and not self.contexts:
            self.modseq = top

    def _own(self) -> None:
        """Give this session a view of its own before changing it (copy on write of the shared listing)."""
        if self.shared:
            self.metas, self.uids, self.shared, self.listing = list(self.metas), list(self.uids), False, None

    def _set_meta(self, i: int, meta: MessageMeta) -> None:
        if self.metas[i] is not meta:
            self._own()
            self.metas[i] = meta

    def _indexes_of(self, uids: set[int]) -> list[int]:
        """0-based view indexes of those of ``uids`` in the view, ascending.

        A few UIDs are looked up one by one; many (a word found in most messages) by one pass
        over the view, which costs less than a binary search per hit.
        """
        if len(uids) * 16 < len(self.uids):
            return [i for i in (self._index_of(u) for u in sorted(uids)) if i is not None]
        return [i for i, u in enumerate(self.uids) if u in uids]

    def _index_of(self, uid: int) -> int | None:
        i = bisect.bisect_left(self.uids, uid)
        return i if i < len(self.uids) and self.uids[i] == uid else None

    def _flags_line(self, i: int, with_uid: bool = False) -> bytes:
        """``* n FETCH (FLAGS ...)``: with UID for UID STORE and under QRESYNC (RFC 7162 §3.2.10), with
        MODSEQ under CONDSTORE; as Dovecot sends it."""
        meta = self.metas[i]
        shown = meta.flags | {"\\Recent"} if meta.uid in self.recent else meta.flags
        extra = b" MODSEQ (%d)" % meta.modseq if self.owner.condstore else b""
        uid = b"UID %d " % meta.uid if with_uid or self.owner.qresync else b""
        return b"* %d FETCH (%sFLAGS %s%s)\r\n" % (i + 1, uid, r.flags(shown), extra)

    def _targets(self, cmd: p.Fetch | p.Store | p.Copy | p.Expunge) -> Sequence[int]:
        """0-based view indexes named by a command's sequence set (UIDs or sequence numbers), ascending: a
        ``range`` for one run (``1:*``, ``n:m``; no list of 100,000 numbers), else a list."""
        sequence = cmd.sequence
        if sequence is None:
            raise p.ParseError("missing sequence set")
        if sequence.saved:  # "$" (RFC 5182): the saved UIDs still in the view
            return sorted(i for i in (self._index_of(u) for u in self.saved) if i is not None)
        if cmd.uid:
            if len(sequence.ranges) == 1 and self.uids:
                (lo, hi), = sequence.bounds(self.uids[-1])
                return range(bisect.bisect_left(self.uids, lo), bisect.bisect_right(self.uids, hi))
            return sequence.uids(self.uids)
        try:
            if len(sequence.ranges) == 1:
                (lo, hi), = sequence.bounds(len(self.uids))
                if lo < 1 or hi > len(self.uids):
                    raise SequenceError("message sequence number out of range")
                return range(lo - 1, hi)
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
        reply.lines.extend(self._announce(result))
        for meta in result:
            i = self._index_of(meta.uid)
            if i is None:
                continue
            changed = self.metas[i].flags != meta.flags or self.metas[i].modseq != meta.modseq
            self._set_meta(i, meta)
            if not cmd.silent or (self.owner.condstore and changed):
                reply.lines.append(self._flags_line(i, cmd.uid))
        if result:
            self._took_own(result)
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
        if cmd.vanished and not self.owner.qresync:
            raise p.ParseError("ENABLE QRESYNC first")
        targets = self._targets(cmd)
        if cmd.changedsince is not None or any(i.name == "MODSEQ" for i in cmd.items):
            self.owner.condstore = True
        if cmd.vanished and cmd.changedsince is not None:
            self._vanished_earlier(cmd.sequence, cmd.changedsince, reply.lines)
        items = cmd.items
        sets_seen = not self.readonly and any(i.sets_seen for i in items)
        if sets_seen:
            unseen = [self.uids[i] for i in targets if "\\Seen" not in self.metas[i].flags]
            if unseen:
                marked = self.folder.store_flags(unseen, ["\\Seen"], "add")
                reply.lines.extend(self._announce(marked))
                for meta in marked:
                    j = self._index_of(meta.uid)
                    if j is not None:
                        self._set_meta(j, meta)
                self._took_own(marked)
                self.owner.changed(self.name)
                if not any(i.name == "FLAGS" for i in items):
                    items = items + (p.FetchItem("FLAGS"),)
        lines = reply.lines
        folder = self.folder
        # MODSEQ in a solicited FETCH only when asked for (an item or CHANGEDSINCE), as Dovecot;
        # unsolicited FETCH carries it whenever CONDSTORE is on (``_flags_line``).
        with_modseq = cmd.changedsince is not None
        if {i.name for i in items} <= {"FLAGS", "UID"} and cmd.changedsince is None:
            self._fetch_flags(targets, lines, with_uid=cmd.uid or any(i.name == "UID" for i in items),
                              with_flags=any(i.name == "FLAGS" for i in items), with_modseq=False)
            self.ok(reply, cmd, "FETCH completed")
            return
        metas, changedsince, pending, recent = self.metas, cmd.changedsince, self.pending_expunge, self.recent
        with_wire = fetch.needs_wire(items)
        plan = fetch.index_plan(items, with_uid=cmd.uid, with_modseq=with_modseq)
        for start in range(0, len(targets), WIRE_BATCH):
            batch = [i for i in targets[start : start + WIRE_BATCH]
                     if (changedsince is None or metas[i].modseq > changedsince) and metas[i].uid not in pending]
            wire = fetch.WireCache(folder, [metas[i].uid for i in batch]) if with_wire and batch else None
            if plan is not None:  # index data and cached wire forms only: no per-message look at the items
                try:
                    lines.extend([fetch.render_index(i + 1, metas[i], plan, wire, metas[i].uid in recent)
                                  for i in batch])
                except MessageGone:  # one went meanwhile: the loop below leaves it out
                    pass
                else:
                    if wire is not None:
                        wire.save()
                    continue
            for i in batch:
                meta = metas[i]
                try:
                    lines.append(fetch.render(i + 1, meta, items, folder, with_uid=cmd.uid, with_modseq=with_modseq,
                                              recent=meta.uid in recent, wire=wire))
                except MessageGone:
                    continue
                except UnknownCte:
                    self.no(reply, cmd, "Unknown Content-Transfer-Encoding", "UNKNOWN-CTE")
                    return
                except ValueError as exc:
                    raise p.ParseError(str(exc)) from exc
            if wire is not None:
                wire.save()
        self.ok(reply, cmd, "FETCH completed")

    def _vanished_earlier(self, sequence: SequenceSet, modseq: int, lines: list[bytes]) -> None:
        """``* VANISHED (EARLIER)`` for the UIDs of ``sequence`` expunged after ``modseq`` (RFC 7162 §3.2.6)."""
        largest = max(self.folder.uidnext - 1, 1)
        gone = [u for u in self.folder.expunged_since(modseq)
                if self._index_of(u) is None and sequence.contains_uid(u, largest)]
        if gone:
            lines.append(b"* VANISHED (EARLIER) " + format_set(gone).encode() + b"\r\n")

    def _fetch_flags(self, targets: Sequence[int], lines: list[bytes], *, with_uid: bool, with_flags: bool,
                     with_modseq: bool) -> None:
        """The hot path of ``FETCH 1:* (FLAGS)``: index data only, one format per message at most (none for
        ``FLAGS`` over a run of the view: the start of each line is made once per process, the rest once
        per distinct flag set)."""
        metas, recent, pending, condstore = self.metas, self.recent, self.pending_expunge, with_modseq
        text = _FlagText()
        if not condstore:  # one format per message, no per-message branches (FLAGS, UID FLAGS, UID)
            run = bool(targets) and targets[-1] - targets[0] + 1 == len(targets)
            if run:  # a contiguous run, e.g. 1:*
                pairs: Any = enumerate(metas[targets[0] : targets[-1] + 1], targets[0] + 1)
            else:
                pairs = ((i + 1, metas[i]) for i in targets)
            if pending:
                pairs, run = [(seq, m) for seq, m in pairs if m[0] not in pending], False
            if with_flags and recent and not (run and not with_uid):
                pairs = [(seq, m if m[0] not in recent else m._replace(flags=m[1] | {"\\Recent"})) for seq, m in pairs]
                run = False
            if with_uid and with_flags:
                fmt = b"* %d FETCH (UID %d FLAGS %s)\r\n"
                lines.extend([fmt % (seq, m[0], text[m[1]]) for seq, m in pairs])
            elif with_flags and run:  # a run of the view as it is: no format per message
                first, last = targets[0] + 1, targets[-1] + 1
                tails = _FlagTail()  # " FETCH (FLAGS (...))\r\n" per distinct flag set
                heads, run_metas = _heads(first, last), metas[first - 1 : last]
                if not recent:
                    lines.extend(map(operator.add, heads, map(tails.__getitem__, map(_FLAGS_OF, run_metas))))
                else:  # the messages this session was the first to see show \Recent
                    marked = _FlagTail(recent=True)
                    lines.extend([head + (marked if m[0] in recent else tails)[m[1]]
                                  for head, m in zip(heads, run_metas, strict=True)])
            elif with_flags:
                fmt = b"* %d FETCH (FLAGS %s)\r\n"
                lines.extend([fmt % (seq, text[m[1]]) for seq, m in pairs])
            else:
                fmt = b"* %d FETCH (UID %d)\r\n"
                lines.extend([fmt % (seq, m[0]) for seq, m in pairs])
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
        returns = cmd.returns or ()
        try:
            found, highest = self._matching(criteria, cmd.charset)
        except BadCharset:
            if "SAVE" in returns:
                self.saved = frozenset()
            self.no(reply, cmd, "Unsupported charset or search text not in it", "BADCHARSET (UTF-8 US-ASCII)")
            return
        numbers = [self.uids[i] if cmd.uid else i + 1 for i in found]
        with_modseq = bool(found) and uses_modseq(criteria)
        if cmd.returns is None and self.owner.rev2:  # RFC 9051 §6.4.4: ESEARCH, as for RETURN (ALL)
            returns = ("ALL",)
            reply.lines.append(r.esearch(cmd.tag, cmd.uid, returns, numbers, highest if with_modseq else None))
        elif cmd.returns is None:
            # the list's repr is its numbers in decimal, written in C: a third cheaper than joining str() of each
            text = b"SEARCH " + repr(numbers)[1:-1].replace(", ", " ").encode() if numbers else b"SEARCH"
            if with_modseq:
                text += b" (MODSEQ %d)" % highest
            reply.lines.append(r.untagged(text))
        else:
            if "SAVE" in returns:
                self.saved = frozenset(self._saved_part(returns, [self.uids[i] for i in found]))
            if "UPDATE" in returns:
                if len(self.contexts) >= MAX_UPDATE_CONTEXTS and cmd.tag not in self.contexts:
                    self.no(reply, cmd, "Too many searches kept up to date", f'NOUPDATE "{cmd.tag}"')
                    return
                self.contexts[cmd.tag] = UpdateContext(criteria, cmd.charset, cmd.uid, {self.uids[i] for i in found})
            if returns != ("SAVE",):  # SAVE alone answers nothing (RFC 5182 §2.4); UPDATE alone an empty ESEARCH
                shown = tuple(w for w in returns if w in ("MIN", "MAX", "ALL", "COUNT"))
                reply.lines.append(r.esearch(cmd.tag, cmd.uid, shown, numbers, highest if with_modseq else None,
                                             cmd.partial))
        self.ok(reply, cmd, "SEARCH completed")

    @staticmethod
    def _saved_part(returns: tuple[str, ...], uids: list[int]) -> list[int]:
        """What SEARCH RETURN (SAVE ...) keeps: all matches, or only MIN/MAX when those alone are asked."""
        if not uids or "ALL" in returns or "COUNT" in returns or not ({"MIN", "MAX"} & set(returns)):
            return uids
        return ([uids[0]] if "MIN" in returns else []) + ([uids[-1]] if "MAX" in returns else [])

    def _matching(self, criteria: SearchKey, charset: str | None) -> tuple[list[int], int]:
        """0-based view indexes matching ``criteria``, ascending, and their highest MODSEQ. Raises BadCharset."""
        matcher = Matcher(criteria, charset, len(self.uids), self.uids[-1] if self.uids else 0)
        hits = self._header_hits(criteria, matcher) or {}
        hits.update(self._saved_hits(criteria))
        hits.update(self._flag_hits(criteria))
        matcher.hits = hits or None
        quick = set_eval(criteria, hits, self.uids)
        if quick is not None:  # answered from the index alone, without a per-message loop
            found = self._indexes_of(quick)
            if not uses_modseq(criteria):  # the highest MODSEQ is shown only then (a loop over every hit)
                return found, 0
            return found, max((self.metas[i].modseq for i in found), default=0)
        found = []
        highest = 0
        cand = Candidate(self.folder)
        for i, meta in enumerate(self.metas):
            cand.reset(i + 1, meta, meta.uid in self.recent)
            if matcher.match(cand):
                found.append(i)
                highest = max(highest, meta.modseq)
        return found, highest

    def _flag_hits(self, key: SearchKey) -> dict[SearchKey, set[int]]:
        """Flag keys (SEEN, UNSEEN, FLAGGED, DELETED...) answered from the view in one pass each, so that
        criteria made of them and index answers take ``set_eval`` (no Candidate per message)."""
        out: dict[SearchKey, set[int]] = {}
        stack = [key]
        while stack:
            k = stack.pop()
            if k.op in FLAG_KEYS and k not in out:
                flag, present = FLAG_KEYS[k.op]
                if present:
                    out[k] = {m[0] for m in self.metas if flag in m[1]}
                else:
                    out[k] = {m[0] for m in self.metas if flag not in m[1]}
            elif k.op in ("AND", "OR", "NOT"):
                stack.extend(k.args)
        return out

    def _saved_hits(self, key: SearchKey) -> dict[SearchKey, set[int]]:
        """``$`` in criteria (``UID $`` or ``$``) stands for the saved result's UIDs (RFC 5182)."""
        out: dict[SearchKey, set[int]] = {}
        stack = [key]
        while stack:
            k = stack.pop()
            if k.op in ("SEQ", "UID") and k.args[0].saved:
                out[k] = set(self.saved)
            elif k.op in ("AND", "OR", "NOT"):
                stack.extend(k.args)
        return out

    # --- SORT / THREAD ---------------------------------------------------------------------

    def cmd_sort(self, cmd: p.Sort, reply: Reply) -> None:
        """SORT and THREAD (RFC 5256, 5957): keys from the index (cached headers and ENVELOPE)."""
        self.updates(reply, allow_expunge=cmd.uid)
        try:
            found, _highest = self._matching(cmd.criteria or SearchKey("ALL"), cmd.charset)
        except BadCharset:
            self.no(reply, cmd, "Unsupported charset or search text not in it", "BADCHARSET (UTF-8 US-ASCII)")
            return
        rows = self._sort_rows(found, with_references=cmd.algorithm == "REFERENCES")
        number = {row.seq: row.uid if cmd.uid else row.seq for row in rows}
        if cmd.name == "SORT":
            ordered = sorting.sort(rows, cmd.keys)
            reply.lines.append(r.untagged(b"SORT" + b"".join(b" %d" % number[row.seq] for row in ordered)))
        else:
            threads = (sorting.thread_references(rows) if cmd.algorithm == "REFERENCES"
                       else sorting.thread_orderedsubject(rows))
            reply.lines.append(r.untagged(b"THREAD " + sorting.format_threads(threads, number)
                                          if threads else b"THREAD"))
        self.ok(reply, cmd, f"{cmd.name} completed")

    def _sort_rows(self, found: list[int], with_references: bool) -> list[sorting.Row]:
        wanted = {self.uids[i]: i for i in found}
        rows = []
        for fields in self.folder.sort_fields():
            i = wanted.get(fields.uid)
            if i is None:
                continue
            meta = self.metas[i]
            arrival = meta.internaldate.timestamp()
            references = ""
            if with_references:
                try:
                    references = sorting.references(self.folder.header(meta.uid))
                except MessageGone:
                    pass
            rows.append(sorting.Row(
                seq=i + 1, uid=meta.uid, arrival=arrival,
                sent=float(fields.date) if fields.date is not None else arrival, size=meta.size,
                subject=fields.subject, from_=sorting.address_keys(fields.from_), to=sorting.address_keys(fields.to),
                cc=sorting.address_keys(fields.cc), message_id=fields.message_id, in_reply_to=fields.in_reply_to,
                references=references))
        return rows

    def _header_hits(self, key: SearchKey, matcher: Matcher) -> dict[SearchKey, set[int]] | None:
        """Answer FROM/TO/CC/SUBJECT (and a few HEADER fields) from the index's cached headers, BODY/TEXT from
        its full-text index."""
        hits: dict[SearchKey, set[int]] = {}

        def walk(k: SearchKey) -> None:
            if k.op in HEADER_CACHED:
                hits[k] = set(self.folder.search_header(HEADER_CACHED[k.op], matcher.text(k.args[0])))
            elif k.op == "HEADER" and k.args[0] in HEADER_CACHED_FIELDS and k.args[1]:
                hits[k] = set(self.folder.search_header(HEADER_CACHED_FIELDS[k.args[0]], matcher.text(k.args[1])))
            elif k.op in ("BODY", "TEXT"):  # the store's full-text index (decoded text parts, HTML as text)
                hits[k] = set(self.folder.search_text(matcher.text(k.args[0]), body_only=k.op == "BODY"))
            elif k.op in ("AND", "OR", "NOT"):
                for sub in k.args:
                    walk(sub)

        walk(key)
        return hits or None


_FLAGS_OF = operator.itemgetter(1)  # MessageMeta.flags
_HEADS: list[bytes] = [b"* 0"]  # b"* n" for each sequence number told so far, made once per process
_HEADS_LOCK = threading.Lock()


def _heads(first: int, last: int) -> list[bytes]:
    """``* first`` … ``* last``: the start of each untagged response for those sequence numbers."""
    if last >= len(_HEADS):
        with _HEADS_LOCK:
            _HEADS.extend(b"* %d" % n for n in range(len(_HEADS), last + 1))
    return _HEADS[first : last + 1]


class _FlagTail(dict):
    """frozenset of flags → `` FETCH (FLAGS (...))\r\n`` (with ``\\Recent`` added if ``recent``), computed once
    per distinct set (a folder has few)."""

    def __init__(self, recent: bool = False) -> None:
        super().__init__()
        self.recent = recent

    def __missing__(self, flags: frozenset[str]) -> bytes:
        value = self[flags] = b" FETCH (FLAGS " + r.flags(flags | {"\\Recent"} if self.recent else flags) + b")\r\n"
        return value


class _FlagText(dict):
    """frozenset of flags → its wire form, computed once per distinct set (a folder has few)."""

    def __missing__(self, flags: frozenset[str]) -> bytes:
        value = self[flags] = r.flags(flags)
        return value
