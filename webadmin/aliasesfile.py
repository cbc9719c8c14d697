"""Parser for the ``/etc/aliases`` format (aliases(5)), pure and line-numbered.

Only what a mail appliance can honour is turned into entries: local names,
addresses and ``/dev/null``. Pipes, files and ``:include:`` are refused with a
reason, because this appliance never runs commands or writes files for mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LINE = 64 * 1024


@dataclass
class AliasEntry:
    line: int
    name: str
    targets: list[str] = field(default_factory=list)  # addresses or bare local names
    discard: bool = False


@dataclass
class Refusal:
    line: int
    text: str
    reason: str


def _split_targets(value: str) -> list[str]:
    targets, current, quoted = [], [], False
    for char in value:
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char == "," and not quoted:
            targets.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    targets.append("".join(current).strip())
    return [t for t in targets if t]


def parse_aliases(text: str) -> tuple[list[AliasEntry], list[Refusal]]:
    """Parse aliases(5) text into entries and refusals (each with its line number)."""
    logical: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if len(raw) > MAX_LINE:
            logical.append((number, "\0too long"))
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if raw[:1] in (" ", "\t") and logical:
            start, previous = logical[-1]
            logical[-1] = (start, previous + " " + stripped)
        else:
            logical.append((number, stripped))
    entries: list[AliasEntry] = []
    refusals: list[Refusal] = []
    for number, line in logical:
        if line == "\0too long":
            refusals.append(Refusal(number, "", "the line is longer than 64 KiB"))
            continue
        name, sep, value = line.partition(":")
        name = name.strip().strip('"')
        if not sep or not name or " " in name:
            refusals.append(Refusal(number, line, "expected “name: target, target…”"))
            continue
        entry = AliasEntry(number, name.lower())
        problem = None
        for target in _split_targets(value):
            unquoted = target.strip('"')
            if unquoted.startswith("|"):
                problem = f"pipes to commands ({unquoted}) are not supported: mail is never handed to programs"
            elif unquoted.lower().startswith(":include:"):
                problem = f"{unquoted} is not supported: list the addresses in the alias itself"
            elif unquoted == "/dev/null":
                entry.discard = True
            elif unquoted.startswith("/") or unquoted.startswith("~"):
                problem = f"delivery to files ({unquoted}) is not supported: mail goes to mailboxes only"
            elif unquoted.startswith("\\"):
                entry.targets.append(unquoted[1:])  # \user: deliver to the user, no further aliasing
            else:
                entry.targets.append(unquoted)
            if problem:
                break
        if problem:
            refusals.append(Refusal(number, line, problem))
        elif not entry.targets and not entry.discard:
            refusals.append(Refusal(number, line, "no targets"))
        else:
            entries.append(entry)
    return entries, refusals
