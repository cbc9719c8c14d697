"""IMAP commands: bytes → typed command objects (pure: no I/O, no storage, no Django).

``parse_command(data)`` takes one complete command (its literals already read by the
server, the final CRLF removed) and returns a ``Command`` or raises ``ParseError``
(which carries the tag when one could be read, so the session can answer ``BAD``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from mailcore.mutf7 import UTF7Error, decode_wire

from .fetchitems import FetchItem, parse_fetch_items
from .lexer import Atom, Lexer, ParseError, String, Token, as_bytes, as_list, as_text, simple_tokens
from .search import SearchKey, parse_search
from .sequence import SequenceError, SequenceSet
from .sorting import THREAD_ALGORITHMS, parse_sort_criteria

__all__ = ["ParseError", "parse_command", "Command", "CommandError"]

_TAG_RE = re.compile(rb"[\x21\x23\x24\x26\x27\x2C-\x5B\x5E-\x7A\x7C\x7E]{1,64}")
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_DATETIME_RE = re.compile(r"([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\Z")

SEARCH_RETURNS = {"MIN", "MAX", "ALL", "COUNT", "SAVE", "UPDATE", "CONTEXT", "PARTIAL"}
_PARTIAL_RE = re.compile(r"([1-9]\d{0,9}):([1-9]\d{0,9})\Z")
SYSTEM_FLAGS = {"\\SEEN", "\\ANSWERED", "\\FLAGGED", "\\DELETED", "\\DRAFT", "\\RECENT"}


class CommandError(ParseError):
    """A parse error that knows the tag of the command it belongs to."""

    def __init__(self, message: str, tag: str = "*") -> None:
        super().__init__(message)
        self.tag = tag


@dataclass
class Command:
    tag: str
    name: str
    uid: bool = False
    # IMAP4rev2 (UTF-8 names): (as sent, normalised) for each mailbox name that was not in NFC; the session
    # answers with LIST ... ("OLDNAME" (...)) (RFC 9051 §5.1, §6.3.9.7)
    normalised: tuple[tuple[str, str], ...] = ()


@dataclass
class Login(Command):
    user: str = ""
    password: str = ""


@dataclass
class Authenticate(Command):
    mechanism: str = ""
    initial: bytes | None = None


@dataclass
class MailboxCommand(Command):
    """SELECT, EXAMINE, CREATE, DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT."""

    mailbox: str = ""
    condstore: bool = False
    special_use: tuple[str, ...] = ()
    qresync: QresyncParams | None = None  # SELECT/EXAMINE (QRESYNC (...))


@dataclass(frozen=True)
class QresyncParams:
    """SELECT's ``QRESYNC (uidvalidity modseq [known-uids [seq-match]])`` (RFC 7162 §3.2.5)."""

    uidvalidity: int
    modseq: int
    known: SequenceSet | None = None


@dataclass
class Rename(Command):
    old: str = ""
    new: str = ""


@dataclass
class ListCommand(Command):
    reference: str = ""
    patterns: tuple[str, ...] = ()
    subscribed_only: bool = False  # LSUB, or LIST (SUBSCRIBED)
    special_use_only: bool = False
    recursive_match: bool = False
    extended: bool = False  # RFC 5258 syntax: selection options, RETURN options or several patterns
    return_special_use: bool = False
    return_subscribed: bool = False
    return_children: bool = False
    return_status: tuple[str, ...] = ()  # LIST-STATUS (RFC 5819)


@dataclass
class Status(Command):
    mailbox: str = ""
    items: tuple[str, ...] = ()


@dataclass
class Appended:
    """One message of an APPEND (MULTIAPPEND sends several)."""

    flags: tuple[str, ...] = ()
    date: datetime | None = None
    message: bytes = b""
    catenate: tuple[tuple[str, bytes], ...] = ()  # CATENATE (RFC 4469): ("TEXT", data) and ("URL", url) parts


@dataclass
class Append(Command):
    mailbox: str = ""
    flags: tuple[str, ...] = ()  # the first message's (``messages`` holds them all)
    date: datetime | None = None
    message: bytes = b""
    messages: tuple[Appended, ...] = ()


@dataclass
class Search(Command):
    charset: str | None = None
    criteria: SearchKey | None = None
    returns: tuple[str, ...] | None = None  # ESEARCH: RETURN (MIN MAX ALL COUNT SAVE ...); None for a plain SEARCH
    partial: tuple[int, int] | None = None  # RETURN (PARTIAL low:high) (RFC 5267)


@dataclass
class Sort(Command):
    """SORT (RFC 5256) and THREAD (``keys`` empty, ``algorithm`` set)."""

    keys: tuple[tuple[str, bool], ...] = ()  # (key, reversed)
    algorithm: str = ""
    charset: str | None = None
    criteria: SearchKey | None = None


@dataclass
class CancelUpdate(Command):
    """CANCELUPDATE (RFC 5267): stop the updates of these SEARCH RETURN (UPDATE) tags."""

    tags: tuple[str, ...] = ()


@dataclass
class Compress(Command):
    mechanism: str = ""


@dataclass
class Fetch(Command):
    sequence: SequenceSet = field(default_factory=lambda: SequenceSet(()))
    items: tuple[FetchItem, ...] = ()
    changedsince: int | None = None
    vanished: bool = False  # UID FETCH ... (CHANGEDSINCE n VANISHED), QRESYNC


@dataclass
class Store(Command):
    sequence: SequenceSet = field(default_factory=lambda: SequenceSet(()))
    mode: str = "replace"  # add | remove | replace
    silent: bool = False
    flags: tuple[str, ...] = ()
    unchangedsince: int | None = None


@dataclass
class Copy(Command):
    """COPY and MOVE (and their UID forms)."""

    sequence: SequenceSet = field(default_factory=lambda: SequenceSet(()))
    mailbox: str = ""


@dataclass
class Expunge(Command):
    sequence: SequenceSet | None = None  # UID EXPUNGE (UIDPLUS)


@dataclass
class Id(Command):
    params: dict[str, str | None] | None = None


@dataclass
class Enable(Command):
    capabilities: tuple[str, ...] = ()


@dataclass
class Quota(Command):
    """GETQUOTA root / SETQUOTA root (limits)."""

    root: str = ""
    limits: tuple[tuple[str, int], ...] = ()


_NO_ARGS = {"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE", "UNSELECT", "IDLE", "NAMESPACE"}


def mailbox_name(token: Token) -> str:
    """A mailbox argument as a folder name: modified UTF-7 decoded, INBOX case-folded."""
    try:
        name = decode_wire(as_bytes(token, "mailbox name"))
    except UTF7Error as exc:
        raise ParseError(str(exc)) from exc
    return _inbox(name)


def _inbox(name: str) -> str:
    if name.upper() == "INBOX":
        return "INBOX"
    if name.upper().startswith("INBOX/"):
        return "INBOX" + name[5:]
    return name


class Names:
    """How one command's mailbox names and LIST patterns are read: modified UTF-7 (IMAP4rev1), or UTF-8
    once the session enabled IMAP4rev2 (RFC 9051 §5.1: ``&`` is then an ordinary character). UTF-8 names
    are normalised to NFC; the names that changed are kept for the OLDNAME answer."""

    def __init__(self, utf8: bool) -> None:
        self.utf8 = utf8
        self.normalised: list[tuple[str, str]] = []

    def mailbox(self, token: Token) -> str:
        if not self.utf8:
            return mailbox_name(token)
        given = self._utf8(token, "mailbox name")
        name = unicodedata.normalize("NFC", given)
        if name != given and (given, name) not in self.normalised:
            self.normalised.append((given, name))
        return _inbox(name)

    def pattern(self, token: Token) -> str:
        return unicodedata.normalize("NFC", self._utf8(token, "pattern")) if self.utf8 else decode_pattern(token)

    @staticmethod
    def _utf8(token: Token, what: str) -> str:
        data = as_bytes(token, what)
        if any(b < 0x20 or b == 0x7F for b in data):
            raise ParseError(f"control character in {what}")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"{what} is not UTF-8") from exc


def parse_flags(token: Token) -> tuple[str, ...]:
    items = token if isinstance(token, list) else [token]
    flags = []
    for item in items:
        if not isinstance(item, Atom):
            raise ParseError("flags must be atoms")
        flag = item.value
        if flag.startswith("\\"):
            if flag.upper() not in SYSTEM_FLAGS:
                raise ParseError(f"unknown system flag {flag}")
            flag = flag[0:2].upper() + flag[2:].lower()
        elif any(c in flag for c in "[]*%"):
            raise ParseError("invalid flag")
        flags.append(flag)
    return tuple(flags)


def parse_datetime(text: str) -> datetime:
    from datetime import timedelta, timezone

    m = _DATETIME_RE.match(text)
    if not m or m.group(2).title() not in _MONTHS:
        raise ParseError("bad date-time (want dd-Mon-yyyy hh:mm:ss +zzzz)")
    day, mon, year, hh, mi, ss, sign, zh, zm = m.groups()
    offset = timedelta(hours=int(zh), minutes=int(zm)) * (-1 if sign == "-" else 1)
    try:
        return datetime(int(year), _MONTHS[mon.title()], int(day), int(hh), int(mi), int(ss),
                        tzinfo=timezone(offset))
    except ValueError as exc:
        raise ParseError("bad date-time") from exc


def sequence_set(token: Token) -> SequenceSet:
    if not isinstance(token, Atom):
        raise ParseError("expected a sequence set")
    try:
        return SequenceSet.parse(token.value)
    except SequenceError as exc:
        raise ParseError(str(exc)) from exc


def number(token: Token, what: str = "number") -> int:
    if not isinstance(token, Atom) or not token.value.isdigit() or len(token.value) > 20:
        raise ParseError(f"expected a {what}")
    return int(token.value)


def _want(args: list[Token], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        raise ParseError("wrong number of arguments")


def parse_command(data: bytes, utf8: bool = False) -> Command:
    """Parse one command; raises CommandError (with the tag when known) on bad input.

    ``utf8``: the session enabled IMAP4rev2, so mailbox names are UTF-8 (not modified UTF-7) and
    STATUS takes DELETED (RFC 9051). The parser keeps no state: the session says which.
    """
    m = _TAG_RE.match(data)
    if not m or data[m.end() : m.end() + 1] != b" ":
        raise CommandError("missing or invalid tag")
    tag = m.group().decode("ascii")
    try:
        fast = _simple(tag, data, m.end() + 1, utf8)
        if fast is not None:
            return fast
        lexer = Lexer(data)
        lexer.pos = m.end() + 1
        name_token = lexer.token()
        if not isinstance(name_token, Atom) or not name_token.value.isalpha():
            raise ParseError("missing command name")
        name = name_token.upper()
        uid = False
        if name == "UID":
            lexer.space()
            sub = lexer.token()
            if not isinstance(sub, Atom) or sub.upper() not in _UID_COMMANDS:
                raise ParseError("unknown UID command")
            name, uid = sub.upper(), True
        args: list[Token] = []
        if lexer.maybe_space():
            args = lexer.tokens_to_end()
        lexer.end()
        names = Names(utf8)
        cmd = _build(tag, name, uid, args, names)
        cmd.normalised = tuple(names.normalised)
        return cmd
    except ParseError as exc:
        raise CommandError(str(exc), tag) from exc
    except RecursionError as exc:  # defensive; MAX_DEPTH should prevent it
        raise CommandError("command nested too deeply", tag) from exc


_UID_COMMANDS = ("FETCH", "SEARCH", "STORE", "COPY", "MOVE", "EXPUNGE", "SORT", "THREAD")


def _simple(tag: str, data: bytes, pos: int, utf8: bool) -> Command | None:
    """``parse_command`` for a command of plain atoms and flat lists (``lexer.simple_tokens``): the same
    tokens without the general lexer; None when it does not apply (the general path decides, errors too)."""
    tokens = simple_tokens(data, pos)
    if not tokens:
        return None
    first = tokens[0]
    if not isinstance(first, Atom) or not first.value.isalpha():
        return None
    name = first.upper()
    uid = False
    args = tokens[1:]
    if name == "UID":
        if not args or not isinstance(args[0], Atom) or args[0].upper() not in _UID_COMMANDS:
            return None
        name, uid, args = args[0].upper(), True, args[1:]
    names = Names(utf8)
    cmd = _build(tag, name, uid, args, names)
    cmd.normalised = tuple(names.normalised)
    return cmd


def _build(tag: str, name: str, uid: bool, args: list[Token], names: Names) -> Command:
    # the commands of a session's steady traffic first
    if name == "FETCH":
        _want(args, 2, 3)
        changedsince = None
        vanished = False
        if len(args) == 3:
            mods = as_list(args[2], "fetch modifiers")
            words = [as_text(m).upper() if isinstance(m, Atom) else "" for m in mods]
            if len(mods) not in (2, 3) or words[0] != "CHANGEDSINCE" or (len(mods) == 3 and words[2] != "VANISHED"):
                raise ParseError("unsupported fetch modifier")
            changedsince = number(mods[1], "mod-sequence")
            vanished = len(mods) == 3
            if vanished and not uid:
                raise ParseError("VANISHED is for UID FETCH only")
        fetch_items = parse_fetch_items(args[1])
        return Fetch(tag, name, uid, sequence=sequence_set(args[0]), items=fetch_items, changedsince=changedsince,
                     vanished=vanished)
    if name == "STORE":
        return _store(tag, name, uid, args)
    if name in _NO_ARGS:
        _want(args, 0)
        return Command(tag, name)
    if name == "LOGIN":
        _want(args, 2)
        return Login(tag, name, user=as_text(args[0], "user"), password=as_text(args[1], "password"))
    if name == "AUTHENTICATE":
        _want(args, 1, 2)
        initial = None if len(args) == 1 else as_bytes(args[1])
        return Authenticate(tag, name, mechanism=as_text(args[0]).upper(), initial=initial)
    if name in ("SELECT", "EXAMINE"):
        _want(args, 1, 2)
        condstore = False
        qresync = None
        params = as_list(args[1], "select parameters") if len(args) == 2 else []
        i = 0
        while i < len(params):
            word = as_text(params[i]).upper()
            if word == "CONDSTORE" and not condstore:
                condstore = True
            elif word == "QRESYNC" and qresync is None and i + 1 < len(params):
                i += 1
                qresync = _qresync(params[i])
            else:
                raise ParseError("unsupported select parameter")
            i += 1
        if len(args) == 2 and not params:
            raise ParseError("empty select parameters")
        return MailboxCommand(tag, name, mailbox=names.mailbox(args[0]), condstore=condstore, qresync=qresync)
    if name == "CREATE":
        _want(args, 1, 2)
        uses: tuple[str, ...] = ()
        if len(args) == 2:
            opts = as_list(args[1], "create parameters")
            if len(opts) != 2 or as_text(opts[0]).upper() != "USE":
                raise ParseError("unsupported create parameter")
            uses = tuple(as_text(u) for u in as_list(opts[1]))
        return MailboxCommand(tag, name, mailbox=names.mailbox(args[0]), special_use=uses)
    if name in ("DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "GETQUOTAROOT"):
        _want(args, 1)
        return MailboxCommand(tag, name, mailbox=names.mailbox(args[0]))
    if name == "RENAME":
        _want(args, 2)
        return Rename(tag, name, old=names.mailbox(args[0]), new=names.mailbox(args[1]))
    if name in ("LIST", "LSUB"):
        return _list(tag, name, args, names)
    if name == "STATUS":
        _want(args, 2)
        return Status(tag, name, mailbox=names.mailbox(args[0]), items=status_items(args[1], names.utf8))
    if name == "APPEND":
        return _append(tag, name, args, names)
    if name == "SEARCH":
        returns = None
        partial = None
        if len(args) >= 2 and isinstance(args[0], Atom) and args[0].upper() == "RETURN":
            words, partial = _search_returns(as_list(args[1], "return options"))
            returns = tuple(dict.fromkeys(words)) or ("ALL",)
            args = args[2:]
        charset = None
        if len(args) >= 2 and isinstance(args[0], Atom) and args[0].upper() == "CHARSET":
            charset = as_text(args[1]).upper()
            args = args[2:]
        if not args:
            raise ParseError("SEARCH needs criteria")
        return Search(tag, name, uid, charset=charset, criteria=parse_search(args), returns=returns, partial=partial)
    if name == "CANCELUPDATE":
        if not args:
            raise ParseError("CANCELUPDATE needs a tag")
        return CancelUpdate(tag, name, tags=tuple(as_text(a) for a in args))
    if name in ("SORT", "THREAD"):
        if len(args) < 3:
            raise ParseError(f"{name} needs {'criteria' if name == 'SORT' else 'an algorithm'}, a charset and"
                             " search criteria")
        cmd = Sort(tag, name, uid, charset=as_text(args[1]).upper(), criteria=parse_search(args[2:]))
        if name == "SORT":
            cmd.keys = parse_sort_criteria(args[0])
        else:
            cmd.algorithm = as_text(args[0]).upper()
            if cmd.algorithm not in THREAD_ALGORITHMS:
                raise ParseError("unknown THREAD algorithm")
        return cmd
    if name == "COMPRESS":
        _want(args, 1)
        return Compress(tag, name, mechanism=as_text(args[0]).upper())
    if name in ("COPY", "MOVE"):
        _want(args, 2)
        return Copy(tag, name, uid, sequence=sequence_set(args[0]), mailbox=names.mailbox(args[1]))
    if name == "EXPUNGE":
        _want(args, 1 if uid else 0)
        return Expunge(tag, name, uid, sequence=sequence_set(args[0]) if uid else None)
    if name == "ID":
        _want(args, 1)
        return Id(tag, name, params=_id_params(args[0]))
    if name == "ENABLE":
        if not args:
            raise ParseError("ENABLE needs a capability")
        return Enable(tag, name, capabilities=tuple(as_text(a).upper() for a in args))
    if name == "GETQUOTA":
        _want(args, 1)
        return Quota(tag, name, root=as_text(args[0]))
    if name == "SETQUOTA":
        _want(args, 2)
        raw = as_list(args[1], "quota limits")
        if len(raw) % 2:
            raise ParseError("quota limits come in pairs")
        limits = tuple((as_text(raw[i]).upper(), number(raw[i + 1])) for i in range(0, len(raw), 2))
        return Quota(tag, name, root=as_text(args[0]), limits=limits)
    raise ParseError(f"unknown command {name[:20]}")


def _search_returns(tokens: list[Token]) -> tuple[list[str], tuple[int, int] | None]:
    """RETURN options of an extended SEARCH (RFC 4731, 5182, 5267); PARTIAL takes a range."""
    words: list[str] = []
    partial = None
    pos = 0
    while pos < len(tokens):
        word = as_text(tokens[pos]).upper()
        if word not in SEARCH_RETURNS:
            raise ParseError("unknown SEARCH return option")
        if word == "PARTIAL":
            m = _PARTIAL_RE.match(as_text(tokens[pos + 1]) if pos + 1 < len(tokens) else "")
            if m is None:
                raise ParseError("PARTIAL needs a range low:high")
            partial = (int(m.group(1)), int(m.group(2)))
            pos += 1
        words.append(word)
        pos += 1
    return words, partial


STATUS_ITEMS = {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "SIZE"}
# RFC 9051 §6.3.11 adds DELETED (messages with \Deleted) and has no RECENT (there is no \Recent in IMAP4rev2)
STATUS_ITEMS_REV2 = (STATUS_ITEMS - {"RECENT"}) | {"DELETED"}


def status_items(token: Token, rev2: bool = False) -> tuple[str, ...]:
    """The STATUS data items of STATUS and of LIST ... RETURN (STATUS (...))."""
    items = tuple(as_text(i).upper() for i in as_list(token, "status items"))
    if not items or not set(items) <= (STATUS_ITEMS_REV2 if rev2 else STATUS_ITEMS):
        raise ParseError("unknown status item")
    return items


def _qresync(token: Token) -> QresyncParams:
    values = as_list(token, "QRESYNC parameters")
    if not 2 <= len(values) <= 4:
        raise ParseError("QRESYNC needs (uidvalidity modseq [known-uids [seq-match]])")
    uidvalidity, modseq = number(values[0], "uidvalidity"), number(values[1], "mod-sequence")
    if uidvalidity == 0:
        raise ParseError("invalid uidvalidity")
    known = sequence_set(values[2]) if len(values) > 2 else None
    if known is not None and any(lo is None or hi is None for lo, hi in known.ranges):
        raise ParseError("'*' is not allowed in known UIDs")
    if len(values) == 4:  # seq-match-data: checked for form, not needed (every expunged UID is kept)
        match = as_list(values[3], "sequence match data")
        if len(match) != 2:
            raise ParseError("sequence match data is (sequences UIDs)")
        sequence_set(match[0])
        sequence_set(match[1])
    return QresyncParams(uidvalidity, modseq, known)


def _list(tag: str, name: str, args: list[Token], names: Names) -> ListCommand:
    cmd = ListCommand(tag, name, subscribed_only=name == "LSUB")
    if name == "LIST" and args and isinstance(args[0], list):
        cmd.extended = True
        for opt in as_list(args.pop(0)):
            word = as_text(opt).upper()
            if word == "SUBSCRIBED":
                cmd.subscribed_only = cmd.return_subscribed = True
            elif word == "SPECIAL-USE":
                cmd.special_use_only = cmd.return_special_use = True
            elif word == "RECURSIVEMATCH":
                cmd.recursive_match = True
            elif word != "REMOTE":
                raise ParseError(f"unknown LIST selection option {word[:20]}")
        if cmd.recursive_match and not cmd.subscribed_only:  # RFC 5258 §3: not alone, nor with only REMOTE
            raise ParseError("RECURSIVEMATCH needs another selection option")
    if len(args) == 4 and name == "LIST" and isinstance(args[2], Atom) and args[2].upper() == "RETURN":
        cmd.extended = True
        options = as_list(args[3], "return options")
        i = 0
        while i < len(options):
            word = as_text(options[i]).upper()
            if word == "SPECIAL-USE":
                cmd.return_special_use = True
            elif word == "SUBSCRIBED":
                cmd.return_subscribed = True
            elif word == "CHILDREN":
                cmd.return_children = True
            elif word == "STATUS" and i + 1 < len(options) and not cmd.return_status:
                i += 1
                cmd.return_status = status_items(options[i], names.utf8)
            else:
                raise ParseError(f"unknown LIST return option {word[:20]}")
            i += 1
        args = args[:2]
    _want(args, 2)
    if as_bytes(args[0]):
        cmd.reference = _inbox(names.pattern(args[0])) if names.utf8 else mailbox_name(args[0])
    patterns = args[1] if isinstance(args[1], list) and name == "LIST" else [args[1]]
    if isinstance(args[1], list):
        cmd.extended = True
    cmd.patterns = tuple(names.pattern(p) for p in patterns)
    return cmd


def decode_pattern(token: Token) -> str:
    try:
        return decode_wire(as_bytes(token, "pattern"))
    except UTF7Error as exc:
        raise ParseError(str(exc)) from exc


def _append(tag: str, name: str, args: list[Token], names: Names) -> Append:
    """APPEND mailbox [flags] [date] literal, and MULTIAPPEND's further [flags] [date] literal (RFC 3502)."""
    if len(args) < 2:
        raise ParseError("APPEND needs a mailbox and a message")
    cmd = Append(tag, name, mailbox=names.mailbox(args[0]))
    rest = args[1:]
    messages = []
    pos = 0
    while pos < len(rest):
        one = Appended()
        if isinstance(rest[pos], list):
            one.flags = parse_flags(rest[pos])
            pos += 1
        if pos + 1 < len(rest) and isinstance(rest[pos], String) and not rest[pos].literal:  # type: ignore[union-attr]
            one.date = parse_datetime(as_text(rest[pos]))
            pos += 1
        message = rest[pos] if pos < len(rest) else None
        if isinstance(message, Atom) and message.upper() == "CATENATE" and pos + 1 < len(rest):
            one.catenate = _catenate(rest[pos + 1])
            messages.append(one)
            pos += 2
            continue
        if not isinstance(message, String) or not message.literal:
            raise ParseError("APPEND message must be a literal")
        one.message = message.value
        messages.append(one)
        pos += 1
    cmd.messages = tuple(messages)
    cmd.flags, cmd.date, cmd.message = messages[0].flags, messages[0].date, messages[0].message
    return cmd


MAX_CATENATE_PARTS = 100


def _catenate(token: Token) -> tuple[tuple[str, bytes], ...]:
    """``(TEXT literal / URL astring ...)`` of CATENATE (RFC 4469)."""
    items = as_list(token, "CATENATE parts")
    if not items or len(items) % 2 or len(items) > 2 * MAX_CATENATE_PARTS:
        raise ParseError("CATENATE needs TEXT and URL parts")
    parts = []
    for i in range(0, len(items), 2):
        kind, value = as_text(items[i]).upper(), items[i + 1]
        if kind == "TEXT" and isinstance(value, String) and value.literal:
            parts.append(("TEXT", value.value))
        elif kind == "URL" and not isinstance(value, list):
            parts.append(("URL", as_bytes(value)))
        else:
            raise ParseError("CATENATE parts are TEXT literal or URL string")
    return tuple(parts)


_STORE_ITEM = re.compile(r"([+-]?)FLAGS(\.SILENT)?")


def _store(tag: str, name: str, uid: bool, args: list[Token]) -> Store:
    _want(args, 3, 4)
    cmd = Store(tag, name, uid, sequence=sequence_set(args[0]))
    rest = args[1:]
    if isinstance(rest[0], list):
        mods = as_list(rest.pop(0))
        if len(mods) != 2 or as_text(mods[0]).upper() != "UNCHANGEDSINCE":
            raise ParseError("unsupported store modifier")
        cmd.unchangedsince = number(mods[1], "mod-sequence")
    if len(rest) != 2 or not isinstance(rest[0], Atom):
        raise ParseError("STORE needs an item and flags")
    item = rest[0].upper()
    m = _STORE_ITEM.fullmatch(item)
    if not m:
        raise ParseError("STORE item must be [+|-]FLAGS[.SILENT]")
    cmd.mode = {"+": "add", "-": "remove", "": "replace"}[m.group(1)]
    cmd.silent = bool(m.group(2))
    cmd.flags = parse_flags(rest[1])
    return cmd


def _id_params(token: Token) -> dict[str, str | None] | None:
    if isinstance(token, Atom) and token.upper() == "NIL":
        return None
    items = as_list(token, "ID parameters")
    if len(items) % 2 or len(items) > 60:
        raise ParseError("ID parameters come in (at most 30) pairs")
    out: dict[str, str | None] = {}
    for i in range(0, len(items), 2):
        value = items[i + 1]
        nil = isinstance(value, Atom) and value.upper() == "NIL"
        out[as_text(items[i])[:30]] = None if nil else as_text(value)[:1024]
    return out
