"""Sieve scripts (RFC 5228): parse and check with ``sievelib``, shared by the configuration and delivery.

Django-free. :func:`check` is what an upload calls (the dashboard, webmail, ManageSieve):
it refuses a script that is too large, does not parse, requires an extension we do not
run, or includes itself (directly or through other scripts), naming the line and the
reason. :func:`parse` gives the command tree the interpreter (``agents.delivery.sieve``)
walks; the helpers below turn ``sievelib``'s quoted argument text into values.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_SCRIPT = 64 * 1024  # bytes of one script
MAX_INCLUDE_DEPTH = 8  # RFC 6609 leaves the bound to us

EXTENSIONS = (
    "fileinto", "envelope", "reject", "ereject", "imap4flags", "vacation", "date", "relational",
    "copy", "body", "variables", "include", "mailbox", "subaddress", "editheader",
    "comparator-i;ascii-numeric", "regex",
)  # fmt: skip


# --- sievelib, loaded on the first parse ---------------------------------------------------
# An idle mail agent or worker never parses a script: sievelib (with the commands it lacks,
# below) loads when one is first checked or run (tests/supervisor/test_lean_imports.py).


_lock = threading.Lock()  # sievelib keeps its parser state in module globals


@functools.cache
def _sievelib() -> tuple[Any, Any]:
    """sievelib's ``commands`` module, extended with the commands it lacks, and its ``Parser``
    (first called by :func:`parse`, under ``_lock``)."""
    from sievelib import commands as sc
    from sievelib.parser import Parser

    class ErejectCommand(sc.ActionCommand):
        extension = "ereject"
        args_definition = [{"name": "text", "type": ["string"], "required": True}]

    class IncludeCommand(sc.ActionCommand):
        extension = "include"
        args_definition = [
            {"name": "location", "type": ["tag"], "values": [":personal", ":global"], "required": False},
            {"name": "once", "type": ["tag"], "values": [":once"], "required": False},
            {"name": "optional", "type": ["tag"], "values": [":optional"], "required": False},
            {"name": "script", "type": ["string"], "required": True},
        ]

    class ReturnCommand(sc.ActionCommand):
        extension = "include"
        args_definition: list[sc.CommandArg] = []

    class GlobalCommand(sc.ActionCommand):
        extension = "include"
        args_definition = [{"name": "names", "type": ["string", "stringlist"], "required": True}]

    class StringCommand(sc.TestCommand):
        extension = "variables"
        args_definition = [
            sc.comparator,
            sc.match_type,
            {"name": "source", "type": ["string", "stringlist"], "required": True},
            {"name": "key-list", "type": ["string", "stringlist"], "required": True},
        ]

    class MailboxexistsCommand(sc.TestCommand):
        extension = "mailbox"
        args_definition = [{"name": "mailboxes", "type": ["string", "stringlist"], "required": True}]

    class AddheaderCommand(sc.ActionCommand):
        extension = "editheader"
        args_definition = [
            {"name": "last", "type": ["tag"], "values": [":last"], "required": False},
            {"name": "field-name", "type": ["string"], "required": True},
            {"name": "value", "type": ["string"], "required": True},
        ]

    class DeleteheaderCommand(sc.ActionCommand):
        extension = "editheader"
        args_definition = [
            {"name": "index", "type": ["tag"], "values": [":index"], "extra_arg": {"type": "number"},
             "required": False},
            {"name": "last", "type": ["tag"], "values": [":last"], "required": False},
            sc.comparator,
            sc.match_type,
            {"name": "field-name", "type": ["string"], "required": True},
            {"name": "value-patterns", "type": ["string", "stringlist"], "required": False},
        ]  # fmt: skip

    sc.add_commands([ErejectCommand, StringCommand, IncludeCommand, ReturnCommand, GlobalCommand, MailboxexistsCommand,
                     AddheaderCommand, DeleteheaderCommand])  # fmt: skip
    # subaddress (RFC 5233) adds two address parts; comparators beyond the two sievelib knows.
    sc.address_part.setdefault("extension_values", {}).update({":user": "subaddress", ":detail": "subaddress"})
    _cmp_extra: Any = sc.comparator["extra_arg"]
    _cmp_extra["values"] = [*_cmp_extra["values"], '"i;ascii-numeric"']
    return sc, Parser


class SieveError(ValueError):
    """A script refused: ``line`` (1-based, 0 if unknown) and a reason a user can act on."""

    def __init__(self, reason: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.reason, self.line = reason, line


@dataclass
class Script:
    """A parsed script: its command tree (``sievelib`` commands) and what it requires."""

    commands: list[Any]
    requires: set[str]
    includes: list[tuple[str, int]]  # (script name, line) of each ``include``


_LINE = re.compile(r"line (\d+)")


def parse(text: str) -> Script:
    """Parse ``text``; :class:`SieveError` with the line for a script that is too large or invalid."""
    data = text.encode("utf-8")
    if len(data) > MAX_SCRIPT:
        raise SieveError(f"script too large ({len(data)} bytes, at most {MAX_SCRIPT})", text.count("\n", 0) + 1)
    with _lock:
        parser = _sievelib()[1]()
        ok = parser.parse(data)
        error = "" if ok else str(parser.error)
        result = list(parser.result or []) if ok else []
    if not ok:
        found = _LINE.search(error)
        reason = error.split(": ", 1)[1] if found and ": " in error else error
        raise SieveError(reason, int(found.group(1)) if found else 0)
    requires: set[str] = set()
    includes: list[tuple[str, int]] = []
    for command in walk(result):
        if command.name == "require":
            requires.update(strings(command.arguments["capabilities"]))
        elif command.name == "include":
            includes.append((string(command.arguments["script"]), _line_of(text, command)))
    unknown = sorted(r for r in requires if r not in EXTENSIONS)
    if unknown:
        raise SieveError(f"unsupported extension {unknown[0]!r}", _require_line(text, unknown[0]))
    return Script(result, requires, includes)


def check(text: str, name: str = "", others: Callable[[str], str | None] | None = None) -> Script:
    """Parse ``text`` (script ``name``) and follow its includes through ``others`` (name → text).

    Refuses with :class:`SieveError` a script that includes itself, directly or through
    other scripts, or nests includes deeper than :data:`MAX_INCLUDE_DEPTH`.
    """
    script = parse(text)
    if others is None:
        return script

    def visit(current: Script, chain: list[str]) -> None:
        for target, line in current.includes:
            if target in chain:
                raise SieveError(f"include loop: {' → '.join([*chain, target])}", line if len(chain) == 1 else 0)
            if len(chain) >= MAX_INCLUDE_DEPTH:
                raise SieveError(f"includes nested deeper than {MAX_INCLUDE_DEPTH}", line if len(chain) == 1 else 0)
            body = others(target)
            if body is not None:
                try:
                    visit(parse(body), [*chain, target])
                except SieveError as exc:
                    if len(chain) == 1:
                        raise SieveError(f"in included script {target!r}: {exc}", line) from None
                    raise

    visit(script, [name])
    return script


def walk(commands: list[Any]) -> Any:
    """Every command of the tree, depth first (tests included)."""
    sc = _sievelib()[0]
    for command in commands:
        yield command
        for value in command.arguments.values():
            if isinstance(value, sc.Command):
                yield from walk([value])
            elif isinstance(value, list) and value and isinstance(value[0], sc.Command):
                yield from walk(value)
        yield from walk(command.children)


def _line_of(text: str, command: Any) -> int:
    name = string(command.arguments.get("script", '""'))
    for number, line in enumerate(text.splitlines(), 1):
        if "include" in line and name in line:
            return number
    return 0


def _require_line(text: str, extension: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if f'"{extension}"' in line:
            return number
    return 0


# --- argument values --------------------------------------------------------------------------

_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def string(value: Any) -> str:
    """One sievelib string argument as its value (quotes and escapes removed, ``text:`` unstuffed)."""
    if isinstance(value, list):
        return string(value[0]) if value else ""
    text = str(value)
    if text.startswith("text:"):
        body = text[5:].split("\n", 1)[1] if "\n" in text else ""
        body = body[:-1] if body.endswith("\n.") or body == "." else body
        body = body.rstrip(".") if body.endswith("\n.") else body
        lines = [line[1:] if line.startswith("..") else line for line in body.split("\n")]
        return "\n".join(lines).removesuffix("\n.").rstrip("\n") + ("\n" if lines else "")
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return _ESCAPE.sub(r"\1", text[1:-1])
    return text


def strings(value: Any) -> list[str]:
    """A string or string-list argument as a list of values."""
    if isinstance(value, list):
        return [string(v) for v in value]
    return [string(value)]


def number(value: Any) -> int:
    """A number argument (``100``, ``10K``, ``1M``, ``1G``)."""
    text = str(value).strip()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
    return int(text[:-1] if scale > 1 else text) * scale
