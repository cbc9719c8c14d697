"""The IMAP session state machine: not authenticated → authenticated → selected → logout.

A session talks to two small interfaces: an ``Authenticator`` (address, password →
``User`` or None) and a ``MailboxOpener`` (address → the store's mailbox object). Its
``execute`` is blocking (store and auth calls are synchronous); the server runs it in a
worker thread, one command at a time per session. No sockets here, no Django.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.loginguard import LoginGuard, memory_guard

from . import fetch
from . import parser as p
from . import responses as r
from .selected import SelectedMixin, warm

CAPABILITIES = ["IMAP4rev1", "LITERAL+", "IDLE", "UIDPLUS", "MOVE", "NAMESPACE", "ID", "ENABLE", "SPECIAL-USE",
                "UNSELECT", "CONDSTORE", "QUOTA", "CHILDREN", "LIST-EXTENDED", "SASL-IR"]
SPECIAL_USES = {"\\Sent", "\\Drafts", "\\Junk", "\\Trash", "\\Archive", "\\All", "\\Flagged"}


@dataclass(frozen=True)
class User:
    address: str
    quota: int = 0  # bytes, 0 = unlimited


Authenticator = Callable[[str, str], "User | None"]


class MailboxStore(Protocol):
    """The part of ``agents.store.MailboxStore`` a session uses."""

    def list_folders(self) -> list[Any]: ...
    def create_folder(self, name: str) -> Any: ...
    def delete_folder(self, name: str) -> None: ...
    def rename_folder(self, old: str, new: str) -> None: ...
    def subscribe(self, name: str, on: bool = True) -> None: ...
    def folder(self, name: str) -> Any: ...
    def usage(self) -> int: ...


MailboxOpener = Callable[[str], MailboxStore]


class Notifier(Protocol):
    """Tells other sessions of this process that a folder changed (wakes IDLE at once)."""

    def notify(self, address: str, folder: str) -> None: ...


@dataclass
class Reply:
    lines: list[bytes] = field(default_factory=list)
    action: str | None = None  # starttls | idle | logout | authenticate (wants a continuation)
    delay: float = 0.0  # seconds the server waits before sending (a failed login)


class Session(SelectedMixin):
    def __init__(self, open_mailbox: MailboxOpener, authenticate: Authenticator, *, peer: str = "",
                 tls: bool = False, tls_available: bool = True, plaintext_login: bool = False,
                 throttle: LoginGuard | None = None, notifier: Notifier | None = None,
                 hostname: str = "localhost") -> None:
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
        self.state = "nonauth"
        self.user: User | None = None
        self.mailbox: MailboxStore | None = None
        self.condstore = False
        self.init_selected()

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
        if cmd.name in _LIGHT:
            return True
        if cmd.name in ("SELECT", "EXAMINE"):
            return self.user is not None and warm(self.user.address, getattr(cmd, "mailbox", ""))
        if cmd.name in ("FETCH", "STORE") and self.state == "selected":
            if cmd.name == "FETCH" and fetch.needs_body(getattr(cmd, "items", ())):
                return False
            largest = (self.uids[-1] if self.uids else 0) if cmd.uid else len(self.metas)
            bounds = cmd.sequence.bounds(largest)  # type: ignore[attr-defined]
            return sum(hi - lo + 1 for lo, hi in bounds) <= LIGHT_MAX_MESSAGES
        return False

    def execute(self, cmd: p.Command) -> Reply:
        """Run one command; never raises for client errors (they become NO/BAD)."""
        reply = Reply()
        handler = getattr(self, "cmd_" + cmd.name.lower(), None)
        allowed = _STATES.get(cmd.name, ("auth", "selected"))
        if handler is None:
            reply.lines.append(r.tagged(cmd.tag, "BAD", "Unknown command"))
        elif self.state not in allowed:
            reply.lines.append(r.tagged(cmd.tag, "BAD", f"{cmd.name} not allowed now"))
        else:
            from agents.store.errors import StoreError

            try:
                handler(cmd, reply)
            except p.ParseError as exc:
                reply.lines.append(r.tagged(cmd.tag, "BAD", str(exc)))
            except StoreError as exc:
                reply.lines.append(r.tagged(cmd.tag, "NO", str(exc)[:200]))
        return reply

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
        attempt = self.throttle.attempt(
            self.peer, user, "imap",
            lambda: self.authenticate(user, password) if len(user) < 320 and len(password) < 1024 else None)
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
        self.user = found
        self.mailbox = self.open_mailbox(found.address)
        self.state = "auth"
        self.ok(reply, cmd, "Logged in", "CAPABILITY " + " ".join(self.capabilities()))

    # --- authenticated ------------------------------------------------------------------

    def cmd_enable(self, cmd: p.Enable, reply: Reply) -> None:
        enabled = [c for c in cmd.capabilities if c == "CONDSTORE"]
        if enabled:
            self.condstore = True
        reply.lines.append(r.untagged("ENABLED" + "".join(" " + c for c in enabled)))
        self.ok(reply, cmd, "ENABLE completed")

    def cmd_namespace(self, cmd: p.Command, reply: Reply) -> None:
        reply.lines.append(r.untagged('NAMESPACE (("" "/")) NIL NIL'))
        self.ok(reply, cmd, "NAMESPACE completed")

    def cmd_create(self, cmd: p.MailboxCommand, reply: Reply) -> None:
        from agents.store.errors import FolderExists

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
        if self.state == "selected" and self.selected_name == cmd.mailbox:
            self.unselect()
        self.box.delete_folder(cmd.mailbox)
        self.ok(reply, cmd, "DELETE completed")

    def cmd_rename(self, cmd: p.Rename, reply: Reply) -> None:
        self.box.rename_folder(cmd.old, cmd.new)
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
        if cmd.patterns == ("",):
            reply.lines.append(r.untagged(f'{word} (\\Noselect) "/" ""'))
            self.ok(reply, cmd, f"{word} completed")
            return
        folders = {f.name: f for f in self.box.list_folders()}
        names = set(folders)
        for name in list(names):  # parents that exist only as a path
            parts = name.split("/")
            names.update("/".join(parts[:i]) for i in range(1, len(parts)))
        regexes = [_pattern(cmd.reference + pat) for pat in cmd.patterns]
        for name in sorted(names, key=lambda n: (n != "INBOX", n)):
            if not any(rx.match(name) for rx in regexes):
                continue
            info = folders.get(name)
            if cmd.subscribed_only and not (info and info.subscribed):
                continue
            if cmd.special_use_only and not (info and info.special_use):
                continue
            attrs = []
            if info is None:
                attrs.append("\\Noselect")
            has_children = any(n.startswith(name + "/") for n in names)
            if word == "LIST":
                attrs.append("\\HasChildren" if has_children else "\\HasNoChildren")
                if info and info.special_use:
                    attrs.append(info.special_use)
                if cmd.return_subscribed and info and info.subscribed:
                    attrs.append("\\Subscribed")
            reply.lines.append(r.untagged(f"{word} ({' '.join(attrs)}) \"/\" ".encode() + r.mailbox(name)))
        self.ok(reply, cmd, f"{word} completed")

    def cmd_status(self, cmd: p.Status, reply: Reply) -> None:
        folder = self.box.folder(cmd.mailbox)
        values = {"MESSAGES": folder.exists, "RECENT": folder.recent, "UIDNEXT": folder.uidnext,
                  "UIDVALIDITY": folder.uidvalidity, "UNSEEN": folder.unseen,
                  "HIGHESTMODSEQ": folder.highestmodseq, "SIZE": folder.size}
        items = " ".join(f"{item} {values[item]}" for item in cmd.items)
        reply.lines.append(r.untagged(b"STATUS " + r.mailbox(cmd.mailbox) + f" ({items})".encode()))
        self.updates(reply)
        self.ok(reply, cmd, "STATUS completed")

    def cmd_append(self, cmd: p.Append, reply: Reply) -> None:
        from agents.store.errors import FolderNotFound

        if self.user and self.user.quota and self.box.usage() + len(cmd.message) > self.user.quota:
            self.no(reply, cmd, "Mailbox is over quota", "OVERQUOTA")
            return
        if not cmd.message:
            self.no(reply, cmd, "Empty message")
            return
        try:
            folder = self.box.folder(cmd.mailbox)
        except FolderNotFound:
            self.no(reply, cmd, "No such folder", "TRYCREATE")
            return
        uid = folder.append(cmd.message, [f for f in cmd.flags if f != "\\Recent"], cmd.date)
        self.changed(cmd.mailbox)
        self.updates(reply)
        self.ok(reply, cmd, "APPEND completed", f"APPENDUID {folder.uidvalidity} {uid}")

    def cmd_getquotaroot(self, cmd: p.MailboxCommand, reply: Reply) -> None:
        self.box.folder(cmd.mailbox)  # raises FolderNotFound → NO
        reply.lines.append(r.untagged(b"QUOTAROOT " + r.mailbox(cmd.mailbox) + b' ""'))
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

    def _quota_line(self) -> bytes:
        used = (self.box.usage() + 1023) // 1024
        limit = (self.user.quota + 1023) // 1024 if self.user else 0
        return r.untagged(f'QUOTA "" (STORAGE {used} {limit})' if limit else 'QUOTA "" ()')


def _pattern(pattern: str) -> re.Pattern[str]:
    """LIST pattern → regex: ``*`` matches anything, ``%`` anything but the separator."""
    out = []
    for ch in pattern[:1000]:
        out.append(".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch))
    text = "".join(out)
    if pattern.upper().startswith("INBOX"):
        return re.compile("(?i:INBOX)" + "".join(_rest(pattern[5:])) + r"\Z")
    return re.compile(text + r"\Z")


def _rest(pattern: str) -> list[str]:
    return [".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in pattern]


LIGHT_MAX_MESSAGES = 500
_LIGHT = {"CAPABILITY", "NOOP", "ID", "ENABLE", "NAMESPACE", "LOGOUT", "STARTTLS", "CHECK", "UNSELECT", "IDLE",
          "GETQUOTA", "SETQUOTA", "LIST", "LSUB", "STATUS", "SUBSCRIBE", "UNSUBSCRIBE", "CREATE"}
_ANY = ("nonauth", "auth", "selected")
_STATES = {
    "CAPABILITY": _ANY, "NOOP": _ANY, "LOGOUT": _ANY, "ID": _ANY,
    "STARTTLS": ("nonauth",), "LOGIN": ("nonauth",), "AUTHENTICATE": ("nonauth",),
    "CHECK": ("selected",), "CLOSE": ("selected",), "UNSELECT": ("selected",), "EXPUNGE": ("selected",),
    "SEARCH": ("selected",), "FETCH": ("selected",), "STORE": ("selected",), "COPY": ("selected",),
    "MOVE": ("selected",),
}
