"""The Sieve interpreter (RFC 5228 and extensions): a user's active script at delivery.

Pure: :func:`run` walks a parsed script (``mailcore.sieve``) against one message and
returns the same :class:`~agents.delivery.filters.Verdict` the filter rows give, plus
``reject`` and vacation replies as ``autoreplies`` (carried out by the local delivery with
the RFC 3834 rules of ``autoreply``). Implicit keep, ``:copy``, ``stop`` and the action
limit follow RFC 5228 section 2.10; a script over :data:`MAX_ACTIONS` actions stops and
keeps the message (the runaway is logged, the mail never lost).
"""

from __future__ import annotations

import datetime
import email.utils
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mailcore import sieve as ms

from .filters import Verdict
from .message import ParsedMessage
from .sievebody import body_values

log = logging.getLogger(__name__)

MAX_ACTIONS = 64  # actions (and tests) one run may take
MAX_REDIRECTS = 8
MAX_PATTERN = 1000  # characters of a :regex key; longer ones never match
MAX_VARIABLE = 4096  # characters of one variable


class _Stop(Exception):
    pass


class _Return(Exception):
    pass


@dataclass
class SieveVerdict(Verdict):
    reject: str = ""  # non-empty: refuse the message with this text (reject/ereject)
    added_headers: list[tuple[str, str]] = field(default_factory=list)  # editheader addheader
    deleted_headers: list[str] = field(default_factory=list)


@dataclass
class Envelope:
    sender: str  # the envelope sender ("" for the null sender)
    recipient: str  # the mailbox the message is delivered to
    now: datetime.datetime  # aware


@dataclass
class _Run:
    message: ParsedMessage
    raw: bytes
    env: Envelope
    includes: Callable[[str], str | None]
    folder_exists: Callable[[str], bool]
    verdict: SieveVerdict = field(default_factory=SieveVerdict)
    requires: set[str] = field(default_factory=set)
    variables: dict[str, str] = field(default_factory=dict)
    matches: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)  # imap4flags' internal variable
    steps: int = 0
    cancel_keep: bool = False
    keep: bool = False
    fileinto: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    included: set[str] = field(default_factory=set)
    depth: int = 0
    any_recipient: bool = False


def run(script: ms.Script, message: ParsedMessage, raw: bytes, env: Envelope, *,
        includes: Callable[[str], str | None] = lambda name: None,
        folder_exists: Callable[[str], bool] = lambda name: True, any_recipient: bool = False) -> SieveVerdict:
    """Run ``script`` for one message; never raises (a runtime error keeps the message).

    ``any_recipient``: vacation answers mail not addressed to the user too (the filter
    rows' auto-reply always did; RFC 5230 section 4.5 asks hand-written scripts not to).
    """
    state = _Run(message, raw, env, includes, folder_exists, any_recipient=any_recipient)
    try:
        _block(state, script.commands, script.requires)
    except (_Stop, _Return):
        pass
    except Exception as exc:  # RFC 5228 2.10.6: on a runtime error, keep
        log.warning("sieve script of %s failed (%s); keeping the message", env.recipient, exc)
        return SieveVerdict(matched=["sieve: error, kept"])
    return _finish(state)


def _finish(state: _Run) -> SieveVerdict:
    verdict = state.verdict
    if verdict.reject:
        verdict.store = False
        return verdict
    targets = list(state.fileinto)
    if state.keep or not state.cancel_keep:
        targets.insert(0, ("INBOX", tuple(sorted(state.flags))))
    # One stored copy per run (the store holds one copy per delivery key): the first fileinto wins over keep.
    chosen = next((t for t in targets if t[0].upper() != "INBOX"), targets[0] if targets else None)
    verdict.store = chosen is not None
    if chosen is not None:
        verdict.folder, verdict.flags = chosen[0], set(chosen[1])
    return verdict


def _count(state: _Run) -> None:
    state.steps += 1
    if state.steps > MAX_ACTIONS:
        raise RuntimeError(f"more than {MAX_ACTIONS} actions")


def _block(state: _Run, commands: list[Any], requires: set[str]) -> None:
    saved = state.requires
    state.requires = requires
    try:
        taken = False  # whether the current if/elsif chain ran a branch
        for command in commands:
            name = command.name
            if name == "require":
                continue
            if name == "if":
                taken = _test(state, command.arguments["test"])
                if taken:
                    _block(state, command.children, requires)
                continue
            if name == "elsif":
                if not taken and _test(state, command.arguments["test"]):
                    taken = True
                    _block(state, command.children, requires)
                continue
            if name == "else":
                if not taken:
                    _block(state, command.children, requires)
                continue
            _action(state, command)
    finally:
        state.requires = saved


def _expand(state: _Run, text: str) -> str:
    """``${name}`` and ``${N}`` expanded (RFC 5229) when the script requires variables."""
    if "variables" not in state.requires or "${" not in text:
        return text

    def value(found: re.Match[str]) -> str:
        name = found.group(1).lower()
        if name.isdigit():
            index = int(name)
            return state.matches[index] if index < len(state.matches) else ""
        return state.variables.get(name, "")

    return re.sub(r"\$\{([A-Za-z0-9_.]+)\}", value, text)[:MAX_VARIABLE * 4]


def _s(state: _Run, value: Any) -> str:
    return _expand(state, ms.string(value))


def _sl(state: _Run, value: Any) -> list[str]:
    return [_expand(state, v) for v in ms.strings(value)]


def _action(state: _Run, command: Any) -> None:
    _count(state)
    name, args, extra = command.name, command.arguments, command.extra_arguments
    verdict = state.verdict
    if name == "stop":
        raise _Stop
    if name == "return":
        raise _Return
    if name == "keep":
        state.keep = True
        if "flags" in args:
            state.fileinto.append(("INBOX", tuple(_sl(state, extra["flags"]))))
    elif name == "discard":
        state.cancel_keep = True
    elif name == "fileinto":
        folder = _s(state, args["mailbox"]).strip() or "INBOX"
        flags = tuple(_sl(state, extra["flags"])) if "flags" in args else tuple(sorted(state.flags))
        state.fileinto.append((folder, flags))
        state.cancel_keep = state.cancel_keep or "copy" not in args
    elif name == "redirect":
        address = _s(state, args["address"]).strip()
        if address and address.lower() not in (a.lower() for a in verdict.redirects):
            if len(verdict.redirects) >= MAX_REDIRECTS:
                raise RuntimeError(f"more than {MAX_REDIRECTS} redirects")
            verdict.redirects.append(address)
        state.cancel_keep = state.cancel_keep or "copy" not in args
    elif name in ("reject", "ereject"):
        verdict.reject = _s(state, args["text"]) or "rejected"
        state.cancel_keep = True
    elif name in ("setflag", "addflag", "removeflag"):
        named = {f for item in _sl(state, args["list-of-flags"]) for f in item.split()}
        if name == "setflag":
            state.flags = named
        elif name == "addflag":
            state.flags |= named
        else:
            state.flags -= named
    elif name == "set":
        value = _s(state, args["value"])
        for modifier in (args.get("length"), args.get("quotewildcard"), args.get("first-case"), args.get("case")):
            value = _modify(str(modifier or ""), value)
        state.variables[_s(state, args["name"]).lower()] = value[:MAX_VARIABLE]
    elif name == "vacation":
        _vacation(state, args, extra)
    elif name == "include":
        _include(state, args)
    elif name == "global":
        pass  # global variables: one script namespace here (includes share it)
    elif name == "addheader":
        verdict.added_headers.append((_s(state, args["field-name"]), _s(state, args["value"])))
    elif name == "deleteheader":
        verdict.deleted_headers.append(_s(state, args["field-name"]))
    else:
        raise RuntimeError(f"unsupported command {name}")
    verdict.matched.append(name)


def _modify(modifier: str, value: str) -> str:
    return {":lower": value.lower(), ":upper": value.upper(), ":lowerfirst": value[:1].lower() + value[1:],
            ":upperfirst": value[:1].upper() + value[1:], ":length": str(len(value)),
            ":quotewildcard": re.sub(r"([*?\\])", r"\\\1", value)}.get(modifier, value)


def _include(state: _Run, args: dict[str, Any]) -> None:
    name = _s(state, args["script"])
    if "once" in args and name in state.included:
        return
    if state.depth >= ms.MAX_INCLUDE_DEPTH:
        raise RuntimeError("includes nested too deep")
    text = state.includes(name)
    if text is None:
        if "optional" in args:
            return
        raise RuntimeError(f"included script {name!r} not found")
    state.included.add(name)
    script = ms.parse(text)
    state.depth += 1
    try:
        _block(state, script.commands, script.requires)
    except _Return:
        pass
    finally:
        state.depth -= 1


def _vacation(state: _Run, args: dict[str, Any], extra: dict[str, Any]) -> None:
    mine = [state.env.recipient.lower()] + [a.lower() for a in _sl(state, extra["addresses"])] \
        if "addresses" in args else [state.env.recipient.lower()]
    # RFC 5230 4.5: reply only to mail addressed to the user.
    to = {a.lower() for _, a in email.utils.getaddresses(
        state.message.get_all("To") + state.message.get_all("Cc") + state.message.get_all("Bcc")
        + state.message.get_all("Resent-To") + state.message.get_all("Resent-Cc"))}
    if not state.any_recipient and not to & set(mine):
        return
    if state.env.sender.lower() in mine:
        return  # never to oneself
    days = max(1, min(ms.number(extra["days"]), 365)) if "days" in args else None  # None: the appliance's default
    sender = email.utils.parseaddr(_s(state, extra["from"]))[1].lower() if "from" in args else ""
    sender = sender if sender in mine else ""  # :from only names one of the user's own addresses
    state.verdict.autoreplies.append({
        "action": "autoreply", "body": _s(state, args["reason"]), "days": days,
        "subject": _s(state, extra["subject"]) if "subject" in args else "",
        "from": sender,
    })


# --- tests ------------------------------------------------------------------------------------


def _test(state: _Run, test: Any) -> bool:
    _count(state)
    name, args = test.name, test.arguments
    if name == "true":
        return True
    if name == "false":
        return False
    if name == "not":
        inner = args.get("test") or (test.children[0] if test.children else None)
        return not _test(state, inner)
    if name in ("allof", "anyof"):
        tests = args.get("tests") or test.children
        results = (_test(state, t) for t in tests)
        return all(results) if name == "allof" else any(results)
    if name == "exists":
        return all(state.message.has(h) for h in _sl(state, args["header-names"]))
    if name == "size":
        limit = ms.number(args["limit"])
        return state.message.size > limit if args["comparator"] == ":over" else state.message.size < limit
    if name == "header":
        values = [v for h in _sl(state, args["header-names"]) for v in state.message.get_all(h)]
        return _match(state, test, values, args["key-list"])
    if name in ("address", "envelope"):
        return _match(state, test, _addresses(state, name, _sl(state, args["header-list"]), args), args["key-list"])
    if name == "body":
        transform = str(args.get("body-transform", ":text")).lower()
        types = _sl(state, test.extra_arguments["body-transform"]) if transform == ":content" else None
        return _match(state, test, body_values(state.raw, transform, types), args["key-list"])
    if name in ("date", "currentdate"):
        return _date(state, test)
    if name == "hasflag":
        return _match(state, test, sorted(state.flags), args["list-of-flags"])
    if name == "string":
        return _match(state, test, _sl(state, args["source"]), args["key-list"])
    if name == "mailboxexists":
        return all(state.folder_exists(m) for m in _sl(state, args["mailboxes"]))
    raise RuntimeError(f"unsupported test {name}")


def _addresses(state: _Run, kind: str, names: list[str], args: dict[str, Any]) -> list[str]:
    if kind == "envelope":
        found = [state.env.sender if n.lower() == "from" else state.env.recipient if n.lower() == "to" else ""
                 for n in names]
    else:
        found = [a for _, a in email.utils.getaddresses([v for n in names for v in state.message.get_all(n)])]
    part = str(args.get("address-part", ":all")).lower()
    out: list[str] = []
    for address in found:
        local, _, domain = address.rpartition("@") if "@" in address else (address, "", "")
        user, plus, detail = local.partition("+")
        if part == ":localpart":
            out.append(local)
        elif part == ":domain":
            out.append(domain)
        elif part == ":user":
            out.append(user)
        elif part == ":detail":
            if plus:  # RFC 5233: no separator, no detail: the test fails for this address
                out.append(detail)
        else:
            out.append(address)
    return out


def _date(state: _Run, test: Any) -> bool:
    args, extra = test.arguments, test.extra_arguments
    if test.name == "currentdate":
        when = state.env.now
    else:
        value = state.message.get(_s(state, args["header-name"]))
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return False
        if when is None:
            return False
    if "zone" in args and args["zone"] == ":zone":
        zone = ms.string(extra["zone"])
        sign = -1 if zone.startswith("-") else 1
        try:
            offset = datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * sign
        except ValueError:
            return False
        when = when.astimezone(datetime.timezone(offset))
    elif when.tzinfo is not None and not (test.name == "date" and args.get("zone") == ":originalzone"):
        when = when.astimezone(state.env.now.tzinfo)
    found = _date_part(when, _s(state, args["date-part"]).lower())
    return found is not None and _match(state, test, [found], args["key-list"])


def _date_part(when: datetime.datetime, part: str) -> str | None:
    offset = when.utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    zone = f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return {
        "year": f"{when.year:04d}", "month": f"{when.month:02d}", "day": f"{when.day:02d}",
        "date": when.strftime("%Y-%m-%d"), "hour": f"{when.hour:02d}", "minute": f"{when.minute:02d}",
        "second": f"{when.second:02d}", "time": when.strftime("%H:%M:%S"),
        "iso8601": when.isoformat(), "std11": email.utils.format_datetime(when), "zone": zone,
        "weekday": str((when.weekday() + 1) % 7),
        "julian": str((when.date() - datetime.date(1858, 11, 17)).days),
    }.get(part)


# --- match types and comparators (RFC 5228 2.7, RFC 5231) -----------------------------------------


def _glob(pattern: str) -> re.Pattern[str]:
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        elif char == "*":
            out.append("(.*?)")
        elif char == "?":
            out.append("(.)")
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


@functools.lru_cache(maxsize=256)
def _regex(pattern: str, comparator: str) -> re.Pattern[str] | None:
    """A :regex key (draft-ietf-sieve-regex, POSIX extended read as Python's); None if it will not compile."""
    if len(pattern) > MAX_PATTERN:
        return None
    try:
        return re.compile(pattern, 0 if comparator == "i;octet" else re.IGNORECASE)
    except re.error:
        return None


def _num(text: str) -> float:
    found = re.match(r"\d+", text)
    return float(found.group(0)) if found else float("inf")


def _match(state: _Run, test: Any, values: list[str], keys_arg: Any) -> bool:
    args, extra = test.arguments, test.extra_arguments
    keys = _sl(state, keys_arg)
    kind = str(args.get("match-type", ":is")).lower()
    comparator = ms.string(extra["comparator"]) if "comparator" in args else "i;ascii-casemap"
    fold = (lambda s: s.lower()) if comparator == "i;ascii-casemap" else (lambda s: s)
    if kind in (":count", ":value"):
        relation = ms.string(extra["match-type"]).lower()
        ops = {"gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b,
               "le": lambda a, b: a <= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b}
        op = ops[relation]
        key: Callable[[str], Any] = _num if comparator == "i;ascii-numeric" else fold
        if kind == ":count":
            return any(op(float(len(values)), _num(k)) for k in keys)
        return any(op(key(v), key(k)) for v in values for k in keys)
    for value in values:
        for k in keys:
            numeric = comparator == "i;ascii-numeric"
            if kind == ":is" and (_num(value) == _num(k) if numeric else fold(value) == fold(k)):
                return True
            if kind == ":contains" and fold(k) in fold(value):
                return True
            pattern = _regex(k, comparator) if kind == ":regex" else None
            if pattern is not None and pattern.search(value):
                return True
            if kind == ":matches":
                found = _glob(fold(k)).match(fold(value))
                if found:
                    if "variables" in state.requires:
                        # match variables keep the original case
                        original = _glob(k).match(value) if comparator == "i;octet" else \
                            re.compile(_glob(k).pattern, re.DOTALL | re.IGNORECASE).match(value)
                        groups = original.groups() if original else found.groups()
                        state.matches = [value, *groups]
                    return True
    return False


