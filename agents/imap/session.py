"""The IMAP session state machine: not authenticated → authenticated → selected → logout.

A session talks to small typed interfaces (``interfaces.py``): an ``Authenticator``
(address, password → ``User`` or None) and a ``MailboxOpener`` (address → the store's
mailbox). ``execute`` looks the command up in ``COMMANDS`` (parsed type, handler,
allowed states, light or not); while a folder is selected the session holds a
``Selected`` view, which runs the commands on that folder. ``execute`` is blocking (store
and auth calls are synchronous); the server runs it in a worker thread, one command at a
time per session. No sockets here, no Django.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from agents.loginguard import LoginGuard, LoginUnavailable, memory_guard
from agents.store.errors import FolderExists, FolderNotFound, StoreError

from . import catenate, fetch, listing
from . import parser as p
from . import responses as r
from .interfaces import Authenticator, JunkTraining, MailboxOpener, MailboxStore, Notifier, Reply, User
from .search import FLAG_KEYS, SearchKey
from .selected import Selected, warm
from .sequence import format_set

log = logging.getLogger("agents.imap")

__all__ = ["Authenticator", "MailboxOpener", "MailboxStore", "Notifier", "Reply", "Session", "User"]

# IMAP4rev2 beside IMAP4rev1 (RFC 9051 Appendix E): a session is rev1 until it sends ENABLE IMAP4rev2.
CAPABILITIES = ["IMAP4rev1", "IMAP4rev2", "LITERAL+", "IDLE", "UIDPLUS", "MOVE", "NAMESPACE", "ID", "ENABLE",
                "SPECIAL-USE", "UNSELECT", "CONDSTORE", "QRESYNC", "QUOTA", "CHILDREN", "LIST-EXTENDED",
                "LIST-STATUS", "SASL-IR", "SORT", "SORT=DISPLAY", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT",
                "ESEARCH", "SEARCHRES", "MULTIAPPEND", "BINARY", "COMPRESS=DEFLATE", "CATENATE", "CONTEXT=SEARCH",
                "STATUS=SIZE"]
SPECIAL_USES = {"\\Sent", "\\Drafts", "\\Junk", "\\Trash", "\\Archive", "\\All", "\\Flagged"}


class Session:
    """One client's IMAP state machine; ``execute`` runs a command through ``COMMANDS``."""

    def __init__(self, open_mailbox: MailboxOpener, authenticate: Authenticator, *, peer: str = "",
                 tls: bool = False, tls_available: bool = True, plaintext_login: bool = False,
                 throttle: LoginGuard | None = None, notifier: Notifier | None = None,
                 hostname: str = "localhost", junk_training: JunkTraining | None = None) -> None:
        self.open_mailbox = open_mailbox
        self.authenticate = authenticate
        self.peer = peer
        self.tls = tls
        self.tls_available = tls_available
        self.plaintext_login = plaintext_login
        self.throttle = throttle or memory_guard()  # the login guard; agents pass the shared one
        self.login_failures = 0
        self.notifier = notifier
        self.hostname = hostname
        self.junk_training = junk_training  # Junk moves teach the spam filter (None: nothing recorded)
        self.state = "nonauth"
        self.user: User | None = None
        self.mailbox: MailboxStore | None = None
        self.condstore = False
        self.qresync = False
        self.rev2 = False  # ENABLE IMAP4rev2 (RFC 9051): until then the session is IMAP4rev1, byte for byte
        self.selected: Selected | None = None
        self.compressed = False  # COMPRESS=DEFLATE active (RFC 4978)

    # --- capability and greeting ------------------------------------------------------

    @property
    def login_allowed(self) -> bool:
        return self.tls or self.plaintext_login

    def capabilities(self) -> list[str]:
        caps = list(CAPABILITIES)
        if self.state == "nonauth":
            if not self.tls and self.tls_available:
                caps.append("STARTTLS")
            caps.append("AUTH=PLAIN" if self.login_allowed else "LOGINDISABLED")
        return caps

    def greeting(self) -> bytes:
        return r.untagged(f"OK [CAPABILITY {' '.join(self.capabilities())}] {self.hostname} IMAP4rev1 ready")

    # --- dispatch -----------------------------------------------------------------------

    def is_light(self, cmd: p.Command) -> bool:
        """True if ``cmd`` touches only index rows and few of them, so the server may run it inline.

        Inline saves two thread hand-offs per command (latency on a busy host); anything that
        may read many files, hash a password or scan a cold 100k listing goes to a worker thread.
        """
        entry = COMMANDS.get(cmd.name)
        if entry is not None and entry.light:
            return True
        if isinstance(cmd, p.MailboxCommand) and cmd.name in ("SELECT", "EXAMINE"):
            return self.user is not None and warm(self.user.address, cmd.mailbox)
        sel = self.selected
        if isinstance(cmd, p.Search) and cmd.name == "SEARCH" and sel is not None:
            # Flags, UIDs, sizes, dates of arrival: answered from the view in a pass or two, no file or query.
            return len(sel.metas) <= LIGHT_SEARCH_MESSAGES and index_only(cmd.criteria)
        if isinstance(cmd, (p.Fetch, p.Store)) and sel is not None:
            if cmd.sequence.saved:
                return False
            if isinstance(cmd, p.Fetch) and fetch.needs_body(cmd.items):
                return self._small_body(sel, cmd)
            largest = (sel.uids[-1] if sel.uids else 0) if cmd.uid else len(sel.metas)
            bounds = cmd.sequence.bounds(largest)
            return sum(hi - lo + 1 for lo, hi in bounds) <= LIGHT_MAX_MESSAGES
        return False

    @staticmethod
    def _small_body(sel: Selected, cmd: p.Fetch) -> bool:
        """True for a FETCH of one message's body data of at most INLINE_BODY_BYTES: one small file read
        costs less on the event loop than the two thread hand-offs (as the POP3 agent's RETR)."""
        largest = (sel.uids[-1] if sel.uids else 0) if cmd.uid else len(sel.metas)
        bounds = cmd.sequence.bounds(largest)
        if len(bounds) != 1 or bounds[0][0] != bounds[0][1]:
            return False
        number = bounds[0][0]
        if cmd.uid:
            i = bisect.bisect_left(sel.uids, number)
            if i >= len(sel.uids) or sel.uids[i] != number:
                return True  # nothing to read
        else:
            i = number - 1
            if not 0 <= i < len(sel.metas):
                return True
        return sel.metas[i].size <= INLINE_BODY_BYTES

    def execute(self, cmd: p.Command) -> Reply:
        """Run one command; never raises for client errors (they become NO/BAD)."""
        reply = Reply()
        entry = COMMANDS.get(cmd.name)
        if entry is None or not isinstance(cmd, entry.kind):
            reply.lines.append(r.tagged(cmd.tag, "BAD", "Unknown command"))
        elif self.state not in entry.states:
            reply.lines.append(r.tagged(cmd.tag, "BAD", f"{cmd.name} not allowed now"))
        else:
            try:
                if cmd.normalised and self.rev2:
                    self._keep_existing_names(cmd)
                entry.run(self, cmd, reply)
                if cmd.normalised and self.rev2 and cmd.name not in ("SELECT", "EXAMINE"):
                    self._tell_normalised(cmd, reply)
            except p.ParseError as exc:
                reply.lines.append(r.tagged(cmd.tag, "BAD", str(exc)))
            except StoreError as exc:
                reply.lines.append(r.tagged(cmd.tag, "NO", str(exc)[:200]))
        return reply

    def _keep_existing_names(self, cmd: p.Command) -> None:
        """A folder whose name is not in NFC (made by an IMAP4rev1 client or by hand) stays reachable: when
        only the name as sent exists, it is used as sent (and not told as normalised)."""
        existing = {f.name for f in self.box.list_folders()}
        kept = []
        for given, name in cmd.normalised:
            if name not in existing and given in existing:
                for attr in ("mailbox", "old", "new"):
                    if getattr(cmd, attr, None) == name:
                        setattr(cmd, attr, given)
            else:
                kept.append((given, name))
        cmd.normalised = tuple(kept)

    def _tell_normalised(self, cmd: p.Command, reply: Reply) -> None:
        """RFC 9051 §5.1, §6.3.4: a UTF-8 name the client sent outside NFC was used in NFC; say so with
        ``LIST ... ("OLDNAME" (...))`` before the tagged OK (after DELETE the name is ``\\NonExistent``)."""
        if not reply.lines or b" OK " not in reply.lines[-1][: len(cmd.tag) + 4]:
            return
        infos = self.box.list_folders()
        tagged = reply.lines.pop()
        reply.lines.extend(listing.oldname_line(name, given, infos) for given, name in cmd.normalised)
        reply.lines.append(tagged)

    # --- shared by the handlers ---------------------------------------------------------

    @property
    def box(self) -> MailboxStore:
        """The logged-in user's mailbox (commands reach here only after LOGIN)."""
        if self.mailbox is None:
            raise RuntimeError("no mailbox before login")
        return self.mailbox

    def ok(self, reply: Reply, cmd: p.Command, text: str, code: str | None = None) -> None:
        reply.ok(cmd, text, code)

    def no(self, reply: Reply, cmd: p.Command, text: str, code: str | None = None) -> None:
        reply.no(cmd, text, code)

    def updates(self, reply: Reply, allow_expunge: bool = True) -> None:
        """Append untagged news about the selected folder (other sessions' changes)."""
        if self.selected is not None:
            self.selected.updates(reply, allow_expunge)

    def sync(self, allow_expunge: bool = True) -> list[bytes]:
        """Untagged updates for the selected folder (IDLE polls this); none when nothing is selected."""
        return self.selected.sync(allow_expunge) if self.selected is not None else []

    def changed(self, folder: str) -> None:
        """Wake other sessions of this process that watch ``folder`` (IDLE)."""
        if self.notifier is not None and self.user is not None:
            self.notifier.notify(self.user.address, folder)

    def unselect(self) -> None:
        self.selected = None
        self.state = "auth"

    def on_selected(self) -> Selected:
        """The selected view (the command table lets selected-state commands run only when there is one)."""
        if self.selected is None:
            raise RuntimeError("no folder selected")
        return self.selected

    # --- any state ----------------------------------------------------------------------

    def cmd_capability(self, cmd: p.Command, reply: Reply) -> None:
        reply.lines.append(r.untagged("CAPABILITY " + " ".join(self.capabilities())))
        self.ok(reply, cmd, "CAPABILITY completed")

    def cmd_noop(self, cmd: p.Command, reply: Reply) -> None:
        self.updates(reply)
        self.ok(reply, cmd, "NOOP completed")

    def cmd_logout(self, cmd: p.Command, reply: Reply) -> None:
        reply.lines.append(r.untagged("BYE logging out"))
        self.ok(reply, cmd, "LOGOUT completed")
        self.state = "logout"
        reply.action = "logout"

    def cmd_id(self, cmd: p.Id, reply: Reply) -> None:
        reply.lines.append(r.untagged(b'ID ("name" "mailappliance" "vendor" "mailappliance")'))
        self.ok(reply, cmd, "ID completed")

    def cmd_compress(self, cmd: p.Compress, reply: Reply) -> None:
        """COMPRESS DEFLATE (RFC 4978): the server wraps the connection after this tagged OK."""
        if cmd.mechanism != "DEFLATE":
            reply.lines.append(r.tagged(cmd.tag, "BAD", "Unknown compression mechanism"))
            return
        if self.compressed:
            self.no(reply, cmd, "Compression is already active", "COMPRESSIONACTIVE")
            return
        self.compressed = True
        self.ok(reply, cmd, "DEFLATE active")
        reply.action = "compress"

    def cmd_starttls(self, cmd: p.Command, reply: Reply) -> None:
        if self.tls or not self.tls_available:
            reply.lines.append(r.tagged(cmd.tag, "BAD", "TLS is already active or not available"))
            return
        self.ok(reply, cmd, "Begin TLS negotiation now")
        reply.action = "starttls"

    # --- not authenticated --------------------------------------------------------------

    def cmd_login(self, cmd: p.Login, reply: Reply) -> None:
        if not self.login_allowed:
            self.no(reply, cmd, "Use STARTTLS first", "PRIVACYREQUIRED")
            return
        self._login(cmd, reply, cmd.user, cmd.password)

    def cmd_authenticate(self, cmd: p.Authenticate, reply: Reply) -> None:
        if cmd.mechanism != "PLAIN":
            self.no(reply, cmd, "Only AUTHENTICATE PLAIN is supported", "CANNOT")
            return
        if not self.login_allowed:
            self.no(reply, cmd, "Use STARTTLS first", "PRIVACYREQUIRED")
            return
        if cmd.initial is None:
            reply.action = "authenticate"  # the server sends "+ " and comes back with the response
            return
        if cmd.initial.strip() == b"*":
            reply.lines.append(r.tagged(cmd.tag, "BAD", "Authentication cancelled"))
            return
        try:
            decoded = base64.b64decode(cmd.initial.strip() or b"", validate=True)
            authzid, user, password = decoded.split(b"\0")
            user_text, password_text = user.decode("utf-8"), password.decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            reply.lines.append(r.tagged(cmd.tag, "BAD", "Malformed PLAIN response"))
            return
        if authzid and authzid.decode("utf-8", "replace").lower() != user_text.lower():
            self.no(reply, cmd, "Logging in as another user is not allowed", "AUTHORIZATIONFAILED")
            return
        self._login(cmd, reply, user_text, password_text)

    def _login(self, cmd: p.Command, reply: Reply, user: str, password: str) -> None:
        # The guard decides before any hash is computed; runs in a worker thread (LOGIN is not light).
        try:
            attempt = self.throttle.attempt(
                self.peer, user, "imap",
                lambda: self.authenticate(user, password) if len(user) < 320 and len(password) < 1024 else None)
        except LoginUnavailable as exc:  # the auth service is down: a temporary failure, never a login, not a guess
            log.error("imap: login of %r from %s not checked: %s", user[:100], self.peer, exc)
            self.no(reply, cmd, "Authentication service unavailable, try again later", "UNAVAILABLE")
            return
        found = attempt.result
        if found is None:
            self.login_failures += 1
            reply.delay = attempt.delay
            if attempt.refused:
                self.no(reply, cmd, "Too many failed logins; try again later", "UNAVAILABLE")
            else:
                self.no(reply, cmd, "Authentication failed", "AUTHENTICATIONFAILED")
            if self.login_failures >= self.throttle.policy.per_connection:
                reply.lines.append(r.untagged("BYE Too many failed logins"))
                self.state = "logout"
            return
        if found.elsewhere:  # cluster mode: never open (and so make) a store on a node that is not its home
            self.no(reply, cmd, found.elsewhere, "UNAVAILABLE")
            return
        self.user = found
        self.mailbox = self.open_mailbox(found.address)
        self.state = "auth"
        self.ok(reply, cmd, "Logged in", "CAPABILITY " + " ".join(self.capabilities()))

    # --- authenticated ------------------------------------------------------------------

    def cmd_enable(self, cmd: p.Enable, reply: Reply) -> None:
        enabled = list(dict.fromkeys(ENABLE_NAMES[c] for c in cmd.capabilities if c in ENABLE_NAMES))
        if "CONDSTORE" in enabled or "QRESYNC" in enabled:
            self.condstore = True  # QRESYNC implies CONDSTORE (RFC 7162 §3.2.3)
        if "QRESYNC" in enabled:
            self.qresync = True
        if "IMAP4rev2" in enabled:
            # From the next command on: UTF-8 names, no \Recent, SEARCH answered by ESEARCH (RFC 9051).
            self.rev2 = True
            if self.selected is not None:
                self.selected.forget_recent()
        reply.lines.append(r.untagged("ENABLED" + "".join(" " + c for c in enabled)))
        self.ok(reply, cmd, "ENABLE completed")

    def cmd_namespace(self, cmd: p.Command, reply: Reply) -> None:
        reply.lines.append(r.untagged('NAMESPACE (("" "/")) NIL NIL'))
        self.ok(reply, cmd, "NAMESPACE completed")

    def cmd_create(self, cmd: p.MailboxCommand, reply: Reply) -> None:
        name = cmd.mailbox.rstrip("/")
        if name == "INBOX":
            self.no(reply, cmd, "INBOX exists already", "ALREADYEXISTS")
            return
        if cmd.special_use:
            self.no(reply, cmd, "Special-use folders are fixed here", "USEATTR")
            return
        try:
            self.box.create_folder(name)
        except FolderExists:
            self.no(reply, cmd, "Folder exists already", "ALREADYEXISTS")
            return
        self.ok(reply, cmd, "CREATE completed")

    def cmd_delete(self, cmd: p.MailboxCommand, reply: Reply) -> None:
        if cmd.mailbox == "INBOX":
            self.no(reply, cmd, "INBOX cannot be deleted", "CANNOT")
            return
        if self.selected is not None and self.selected.name == cmd.mailbox:
            self.unselect()
        self.box.delete_folder(cmd.mailbox)
        self.ok(reply, cmd, "DELETE completed")

    def cmd_rename(self, cmd: p.Rename, reply: Reply) -> None:
        self.box.rename_folder(cmd.old, cmd.new)
        if self.rev2:  # RFC 9051 §6.3.6: the new name, with the old one as OLDNAME
            reply.lines.append(listing.oldname_line(cmd.new, cmd.old, self.box.list_folders()))
        self.ok(reply, cmd, "RENAME completed")

    def cmd_subscribe(self, cmd: p.MailboxCommand, reply: Reply) -> None:
        self.box.subscribe(cmd.mailbox, True)
        self.ok(reply, cmd, "SUBSCRIBE completed")

    def cmd_unsubscribe(self, cmd: p.MailboxCommand, reply: Reply) -> None:
        self.box.subscribe(cmd.mailbox, False)
        self.ok(reply, cmd, "UNSUBSCRIBE completed")

    def cmd_lsub(self, cmd: p.ListCommand, reply: Reply) -> None:
        self.cmd_list(cmd, reply)

    def cmd_list(self, cmd: p.ListCommand, reply: Reply) -> None:
        word = "LSUB" if cmd.name == "LSUB" else "LIST"
        if cmd.patterns == ("",) and not cmd.extended:
            reply.lines.append(r.untagged(f'{word} (\\Noselect) "/" ""'))
            self.ok(reply, cmd, f"{word} completed")
            return
        status = None
        if cmd.return_status:
            def status(name: str) -> bytes | None:
                try:
                    return self._status_line(name, cmd.return_status)
                except StoreError:  # gone meanwhile, or not a folder we can open
                    return None
        box = self.box
        reply.lines.extend(listing.lines(cmd, box.list_folders(), box.subscriptions(), status, self.rev2))
        self.ok(reply, cmd, f"{word} completed")

    def _status_line(self, name: str, items: tuple[str, ...]) -> bytes:
        folder = self.box.folder(name)
        values = {"MESSAGES": lambda: folder.exists, "RECENT": lambda: folder.recent, "UIDNEXT": lambda: folder.uidnext,
                  "UIDVALIDITY": lambda: folder.uidvalidity, "UNSEEN": lambda: folder.unseen,
                  "HIGHESTMODSEQ": lambda: folder.highestmodseq, "SIZE": lambda: folder.size,
                  "DELETED": lambda: sum("\\Deleted" in m.flags for m in folder.listing().metas)}
        text = " ".join(f"{item} {values[item]()}" for item in items)
        return r.untagged(b"STATUS " + r.mailbox(name, self.rev2) + f" ({text})".encode())

    def cmd_status(self, cmd: p.Status, reply: Reply) -> None:
        reply.lines.append(self._status_line(cmd.mailbox, cmd.items))
        self.updates(reply)
        self.ok(reply, cmd, "STATUS completed")

    def cmd_append(self, cmd: p.Append, reply: Reply) -> None:
        """APPEND, MULTIAPPEND (RFC 3502: all the messages are stored, or none) and CATENATE (RFC 4469)."""
        messages = list(cmd.messages or (p.Appended(cmd.flags, cmd.date, cmd.message),))
        for i, m in enumerate(messages):
            if m.catenate:
                try:
                    messages[i] = p.Appended(m.flags, m.date, catenate.assemble(m.catenate, self.box))
                except catenate.BadUrl as exc:
                    self.no(reply, cmd, "CATENATE URL does not name a message here", f"BADURL {exc.url}")
                    return
                except catenate.TooBig:
                    self.no(reply, cmd, "CATENATE message too large", "TOOBIG")
                    return
        size = sum(len(m.message) for m in messages)
        if self.user and self.user.quota and self.box.usage() + size > self.user.quota:
            self.no(reply, cmd, "Mailbox is over quota", "OVERQUOTA")
            return
        if not all(m.message for m in messages):
            self.no(reply, cmd, "Empty message")
            return
        try:
            folder = self.box.folder(cmd.mailbox)
        except FolderNotFound:
            self.no(reply, cmd, "No such folder", "TRYCREATE")
            return
        uids: list[int] = []
        try:
            for m in messages:
                uids.append(folder.append(m.message, [f for f in m.flags if f != "\\Recent"], m.date))
        except BaseException:
            if uids:  # all or nothing: take back what this command stored before failing
                folder.expunge(uids, deleted_only=False)
            raise
        self.changed(cmd.mailbox)
        self.updates(reply)
        self.ok(reply, cmd, "APPEND completed", f"APPENDUID {folder.uidvalidity} {format_set(uids)}")

    def cmd_getquotaroot(self, cmd: p.MailboxCommand, reply: Reply) -> None:
        self.box.folder(cmd.mailbox)  # raises FolderNotFound → NO
        reply.lines.append(r.untagged(b"QUOTAROOT " + r.mailbox(cmd.mailbox, self.rev2) + b' ""'))
        reply.lines.append(self._quota_line())
        self.ok(reply, cmd, "GETQUOTAROOT completed")

    def cmd_getquota(self, cmd: p.Quota, reply: Reply) -> None:
        if cmd.root != "":
            self.no(reply, cmd, "No such quota root")
            return
        reply.lines.append(self._quota_line())
        self.ok(reply, cmd, "GETQUOTA completed")

    def cmd_setquota(self, cmd: p.Quota, reply: Reply) -> None:
        self.no(reply, cmd, "Quotas are set by the administrator", "NOPERM")

    # --- SELECT / EXAMINE / CLOSE / UNSELECT / CHECK / IDLE ------------------------------

    def cmd_select(self, cmd: p.MailboxCommand, reply: Reply) -> None:
        if cmd.qresync is not None and not self.qresync:
            reply.lines.append(r.tagged(cmd.tag, "BAD", "ENABLE QRESYNC first"))
            return
        previous = None
        if self.selected is not None:
            previous = self.selected.folder  # selected again (clients do): the store reuses it if still that folder
            self.unselect()
            reply.lines.append(r.untagged("OK [CLOSED] Previous folder closed"))
        try:
            folder = self.box.folder(cmd.mailbox, reuse=previous)
        except FolderNotFound:
            self.no(reply, cmd, "No such folder", "NONEXISTENT")
            return
        if cmd.condstore:
            self.condstore = True
        readonly = cmd.name == "EXAMINE"
        selected = self.selected = Selected(self, folder, cmd.mailbox, readonly)
        self.state = "selected"
        selected.opening(reply.lines)
        if self.rev2:  # RFC 9051 §6.3.2: the folder's LIST, with OLDNAME if its name was normalised
            infos = self.box.list_folders()
            given = next((old for old, new in cmd.normalised if new == cmd.mailbox), None)
            reply.lines.append(listing.select_line(cmd.mailbox, infos) if given is None
                               else listing.oldname_line(cmd.mailbox, given, infos))
        if cmd.qresync is not None and cmd.qresync.uidvalidity == folder.uidvalidity:
            selected.resync(reply.lines, cmd.qresync.modseq, cmd.qresync.known)
        self.ok(reply, cmd, f"{cmd.name} completed", "READ-ONLY" if readonly else "READ-WRITE")

    def cmd_close(self, cmd: p.Command, reply: Reply) -> None:
        sel = self.on_selected()
        if not sel.readonly:
            sel.folder.expunge()
            self.changed(sel.name)
        self.unselect()
        self.ok(reply, cmd, "CLOSE completed")

    def cmd_unselect(self, cmd: p.Command, reply: Reply) -> None:
        self.unselect()
        self.ok(reply, cmd, "UNSELECT completed")

    def cmd_check(self, cmd: p.Command, reply: Reply) -> None:
        self.updates(reply)
        self.ok(reply, cmd, "CHECK completed")

    def cmd_idle(self, cmd: p.Command, reply: Reply) -> None:
        self.updates(reply)
        reply.action = "idle"

    def _quota_line(self) -> bytes:
        used = (self.box.usage() + 1023) // 1024
        limit = (self.user.quota + 1023) // 1024 if self.user else 0
        return r.untagged(f'QUOTA "" (STORAGE {used} {limit})' if limit else 'QUOTA "" ()')


LIGHT_MAX_MESSAGES = 500
# What ENABLE switches on, in the spelling the ENABLED response uses (the parser upper-cases the names).
ENABLE_NAMES = {"CONDSTORE": "CONDSTORE", "QRESYNC": "QRESYNC", "IMAP4REV2": "IMAP4rev2"}
INLINE_BODY_BYTES = 256 * 1024  # a FETCH of one message's body this small reads the file on the event loop
LIGHT_SEARCH_MESSAGES = 5000  # a SEARCH over the view's flags alone runs inline up to this folder size
_VIEW_KEYS = {"ALL", "NEW", "OLD", "RECENT", "KEYWORD", "UNKEYWORD", "LARGER", "SMALLER", "UID", "SEQ", "MODSEQ",
              "BEFORE", "ON", "SINCE", *FLAG_KEYS}


def index_only(key: SearchKey | None) -> bool:
    """True if every key of the criteria is answered from the selected view (no header, text or file)."""
    stack = [key] if key is not None else []
    while stack:
        k = stack.pop()
        if k.op in ("AND", "OR", "NOT"):
            stack.extend(k.args)
        elif k.op not in _VIEW_KEYS or k.op in ("UID", "SEQ") and k.args[0].saved:
            return False
    return True

# --- the command table --------------------------------------------------------------------

C = TypeVar("C", bound=p.Command)
ANY = ("nonauth", "auth", "selected")
NONAUTH = ("nonauth",)
AUTHED = ("auth", "selected")
SELECTED = ("selected",)


@dataclass(frozen=True)
class Entry:
    """One command: the parsed type it takes, its handler, the states it is allowed in, and whether
    it is light (index rows only, few of them: the server may run it inline, see ``is_light``)."""

    kind: type[p.Command]
    run: Callable[[Session, Any, Reply], None]  # takes ``kind``; ``execute`` checks it
    states: tuple[str, ...]
    light: bool


def entry(kind: type[C], run: Callable[[Session, C, Reply], None], states: tuple[str, ...] = AUTHED,
          *, light: bool = False) -> Entry:
    """A table entry; mypy checks that ``run`` takes what the parser makes for this command."""
    return Entry(kind, run, states, light)


def on_selected(method: Callable[[Selected, C, Reply], None]) -> Callable[[Session, C, Reply], None]:
    """A handler of the ``Selected`` view as a session handler."""

    def run(session: Session, cmd: C, reply: Reply) -> None:
        method(session.on_selected(), cmd, reply)

    return run


S = Session
COMMANDS: dict[str, Entry] = {
    "CAPABILITY": entry(p.Command, S.cmd_capability, ANY, light=True),
    "NOOP": entry(p.Command, S.cmd_noop, ANY, light=True),
    "LOGOUT": entry(p.Command, S.cmd_logout, ANY, light=True),
    "ID": entry(p.Id, S.cmd_id, ANY, light=True),
    "STARTTLS": entry(p.Command, S.cmd_starttls, NONAUTH, light=True),
    "LOGIN": entry(p.Login, S.cmd_login, NONAUTH),
    "AUTHENTICATE": entry(p.Authenticate, S.cmd_authenticate, NONAUTH),
    "ENABLE": entry(p.Enable, S.cmd_enable, light=True),
    "NAMESPACE": entry(p.Command, S.cmd_namespace, light=True),
    "CREATE": entry(p.MailboxCommand, S.cmd_create, light=True),
    "DELETE": entry(p.MailboxCommand, S.cmd_delete),
    "RENAME": entry(p.Rename, S.cmd_rename),
    "SUBSCRIBE": entry(p.MailboxCommand, S.cmd_subscribe, light=True),
    "UNSUBSCRIBE": entry(p.MailboxCommand, S.cmd_unsubscribe, light=True),
    "LIST": entry(p.ListCommand, S.cmd_list, light=True),
    "LSUB": entry(p.ListCommand, S.cmd_lsub, light=True),
    "STATUS": entry(p.Status, S.cmd_status, light=True),
    "APPEND": entry(p.Append, S.cmd_append),
    "GETQUOTAROOT": entry(p.MailboxCommand, S.cmd_getquotaroot),
    "GETQUOTA": entry(p.Quota, S.cmd_getquota, light=True),
    "SETQUOTA": entry(p.Quota, S.cmd_setquota, light=True),
    "SELECT": entry(p.MailboxCommand, S.cmd_select),
    "EXAMINE": entry(p.MailboxCommand, S.cmd_select),
    "CLOSE": entry(p.Command, S.cmd_close, SELECTED),
    "UNSELECT": entry(p.Command, S.cmd_unselect, SELECTED, light=True),
    "CHECK": entry(p.Command, S.cmd_check, SELECTED, light=True),
    "IDLE": entry(p.Command, S.cmd_idle, light=True),
    "EXPUNGE": entry(p.Expunge, on_selected(Selected.cmd_expunge), SELECTED),
    "STORE": entry(p.Store, on_selected(Selected.cmd_store), SELECTED),
    "COPY": entry(p.Copy, on_selected(Selected.cmd_copy), SELECTED),
    "MOVE": entry(p.Copy, on_selected(Selected.cmd_copy), SELECTED),
    "FETCH": entry(p.Fetch, on_selected(Selected.cmd_fetch), SELECTED),
    "SEARCH": entry(p.Search, on_selected(Selected.cmd_search), SELECTED),
    "SORT": entry(p.Sort, on_selected(Selected.cmd_sort), SELECTED),
    "THREAD": entry(p.Sort, on_selected(Selected.cmd_sort), SELECTED),
    "COMPRESS": entry(p.Compress, S.cmd_compress, light=True),
    "CANCELUPDATE": entry(p.CancelUpdate, on_selected(Selected.cmd_cancelupdate), SELECTED, light=True),
}
