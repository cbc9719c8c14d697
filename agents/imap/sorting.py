"""SORT and THREAD (RFC 5256, RFC 5957): base subjects, sort orders and thread trees.

Pure: the selected view hands in one ``Row`` per message (index data and cached
headers, nothing read from message files except References for THREAD=REFERENCES)
and gets back an order or a thread forest. Every walk is iterative, so a chain of
100,000 replies costs memory in proportion, never Python stack.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.store import mimetree
from agents.store.mime import clean, decoded

from .lexer import Atom, ParseError, Token, as_list

SORT_KEYS = {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
THREAD_ALGORITHMS = ("ORDEREDSUBJECT", "REFERENCES")
_WSP = re.compile(r"[ \t\r\n]+")
_TRAILER = re.compile(r"(?:[ \t]|\(fwd\))+\Z", re.I)
_BLOB = r"\[[^\[\]]*\][ \t]*"
_REFWD = re.compile(rf"(?:{_BLOB})*(?:re|fwd?)[ \t]*(?:{_BLOB})?:", re.I)
_LEADING_BLOB = re.compile(_BLOB)
_MSGID = re.compile(r"<([^<>\s@]+@[^<>\s]+)>")


def base_subject(subject: str) -> tuple[str, bool]:
    """RFC 5256 §2.1: the base subject (white space collapsed, reply/forward marks removed) and
    whether any such mark was removed (the message is a reply or forward).

    ``subject`` is already decoded (RFC 2047 words turned into text). Case is kept; compare
    the result through ``collate``.
    """
    text = _WSP.sub(" ", subject)
    reply = False
    for _round in range(len(text) + 1):  # every round shortens the text or ends the loop
        # (2) trailing "(fwd)" and white space
        trimmed = _TRAILER.sub("", text)
        if trimmed != text:
            reply = reply or "(fwd)" in text[len(trimmed) :].lower()
            text = trimmed
        # (3)-(5) leading white space, "Re:", "Fwd:", "[blob] Re:", and a blob that leaves something
        while True:
            before = text
            text = text.lstrip(" \t")
            m = _REFWD.match(text)
            if m:
                text = text[m.end() :]
                reply = True
                continue
            m = _LEADING_BLOB.match(text)
            if m and text[m.end() :].strip(" \t"):
                text = text[m.end() :]
                continue
            if text == before:
                break
        # (6) "[fwd: ...]" around the whole subject
        if text[:5].lower() == "[fwd:" and text.endswith("]"):
            text = text[5:-1]
            reply = True
            continue
        break
    return text, reply


def collate(text: str) -> str:
    """The comparison form of a sort key: i;unicode-casemap-like (decomposed, upper case; ASCII as i;ascii-casemap)."""
    return unicodedata.normalize("NFD", text).upper()


@dataclass
class Row:
    """One message as SORT and THREAD see it."""

    seq: int
    uid: int
    arrival: float  # INTERNALDATE as a UNIX time
    sent: float  # the Date header as a UNIX time, or INTERNALDATE when there is none (RFC 5256)
    size: int
    subject: str = ""  # decoded Subject
    from_: tuple[str, str] = ("", "")  # first From address: (mailbox, display name or addr-spec)
    to: tuple[str, str] = ("", "")
    cc: tuple[str, str] = ("", "")
    message_id: str = ""
    in_reply_to: str = ""
    references: str = ""


def address_keys(address: list | None) -> tuple[str, str]:
    """(addr-mailbox, display name) of a first ENVELOPE address, as SORT FROM and DISPLAYFROM compare them."""
    if not address:
        return "", ""
    name, _adl, mailbox, host = address
    if name:
        display = decoded(name)
    elif host is None:  # a group: its name (as Dovecot sorts "undisclosed-recipients:;")
        display = mailbox or ""
    else:
        display = f"{mailbox}@{host}" if mailbox else ""
    return mailbox or "", display


def references(header: bytes) -> str:
    """The References field of a message header (unfolded), or ""."""
    return clean(mimetree.header_fields(header, 0, len(header)).get("references")) or ""


def parse_sort_criteria(token: Token) -> tuple[tuple[str, bool], ...]:
    """``(REVERSE DATE SUBJECT)`` → ((key, reverse), ...). Raises ParseError."""
    words = as_list(token, "sort criteria")
    out: list[tuple[str, bool]] = []
    reverse = False
    for word in words:
        if not isinstance(word, Atom):
            raise ParseError("sort keys are atoms")
        name = word.upper()
        if name == "REVERSE" and not reverse:
            reverse = True
            continue
        if name not in SORT_KEYS:
            raise ParseError(f"unknown sort key {name[:20]}")
        out.append((name, reverse))
        reverse = False
    if reverse or not out:
        raise ParseError("incomplete sort criteria")
    return tuple(out)


def _key(row: Row, name: str, subjects: dict[int, str]) -> Any:  # a float or a str, the same for one key
    if name == "ARRIVAL":
        return row.arrival
    if name == "DATE":
        return row.sent
    if name == "SIZE":
        return row.size
    if name == "SUBJECT":
        return subjects[row.seq]
    if name in ("FROM", "TO", "CC"):
        return collate({"FROM": row.from_, "TO": row.to, "CC": row.cc}[name][0])
    return collate((row.from_ if name == "DISPLAYFROM" else row.to)[1])


def sort(rows: Sequence[Row], criteria: Sequence[tuple[str, bool]]) -> list[Row]:
    """The rows in SORT order: each key ascending or reversed, ties by sequence number (RFC 5256 §3)."""
    subjects = {r.seq: collate(base_subject(r.subject)[0]) for r in rows} if any(
        k == "SUBJECT" for k, _ in criteria) else {}
    out = sorted(rows, key=lambda r: r.seq)
    for name, reverse in reversed(criteria):  # stable sorts, least significant key first
        keys = {r.seq: _key(r, name, subjects) for r in out}
        out.sort(key=lambda r: keys[r.seq], reverse=reverse)
    return out


# --- THREAD ------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class Node:
    """A thread container: a message (``row``) or a dummy standing for a message we do not have."""

    row: Row | None = None
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    def date(self) -> tuple[float, int]:
        """Sort position among siblings: sent date then sequence number; a dummy takes its first child's."""
        node: Node = self
        for _ in range(1_000_000):
            if node.row is not None:
                return node.row.sent, node.row.seq
            if not node.children:
                return 0.0, 0
            node = node.children[0]
        return 0.0, 0


def message_ids(text: str) -> list[str]:
    """The msg-ids of a References or In-Reply-To field, in order, without brackets."""
    return _MSGID.findall(text)


WALK_BUDGET = 2_000_000  # parent steps THREAD=REFERENCES may take checking for loops, over a whole command


class _Walker:
    """Loop checks with a budget: a hostile folder cannot make linking quadratic. Once the budget is
    spent, a link that would need a walk is refused (the message starts its own thread)."""

    def __init__(self, budget: int = WALK_BUDGET) -> None:
        self.budget = budget

    def is_ancestor(self, node: Node, of: Node) -> bool:
        """True if ``node`` is ``of`` or one of its ancestors (or if the budget is spent)."""
        current: Node | None = of
        while current is not None:
            if current is node:
                return True
            self.budget -= 1
            if self.budget < 0:
                return True
            current = current.parent
        return False


def thread_references(rows: Sequence[Row], budget: int = WALK_BUDGET) -> list[Node]:
    """RFC 5256 THREAD=REFERENCES: the root set of the thread forest, in order.

    Linking sets parent pointers only; children lists are built once afterwards, so re-parenting
    never searches a long sibling list.
    """
    table: dict[str, Node] = {}
    loose: list[Node] = []  # messages without a Message-ID of their own (missing or a duplicate)
    has_children: set[int] = set()  # ids of nodes that ever got a child (others cannot close a loop)
    walker = _Walker(budget)
    for row in sorted(rows, key=lambda r: r.seq):
        ids = message_ids(row.message_id)
        node = table.get(ids[0]) if ids else None
        if node is None and ids:
            node = table[ids[0]] = Node(row=row)
        elif node is not None and node.row is None:
            node.row = row
        else:
            node = Node(row=row)
            loose.append(node)
        refs = message_ids(row.references) or message_ids(row.in_reply_to)[:1]
        previous: Node | None = None
        for ref in refs:  # (1A) link the chain; an existing link stays; no loops
            container = table.get(ref)
            if container is None:
                container = table[ref] = Node()
            if previous is not None and container.parent is None and container is not previous and (
                    id(container) not in has_children or not walker.is_ancestor(container, previous)):
                container.parent = previous
                has_children.add(id(previous))
            previous = container
        node.parent = None  # (1B) the last reference is the parent, replacing a guess from elsewhere
        if previous is not None and previous is not node and (
                id(node) not in has_children or not walker.is_ancestor(node, previous)):
            node.parent = previous
            has_children.add(id(previous))
    nodes = _unique(table.values()) + loose
    for n in nodes:
        if n.parent is not None:
            n.parent.children.append(n)
    roots = _prune([n for n in nodes if n.parent is None])
    _sort_siblings(roots)
    roots = _group_by_subject(roots)
    _sort_siblings(roots)
    return roots


def _unique(nodes: Iterable[Node]) -> list[Node]:
    seen: set[int] = set()
    out = []
    for node in nodes:
        if id(node) not in seen:
            seen.add(id(node))
            out.append(node)
    return out


def _prune(roots: list[Node]) -> list[Node]:
    """RFC 5256 step 3: drop empty dummies, splice dummies' children into their place (not into the root
    set unless a dummy root has a single child). One bottom-up pass, children lists rebuilt once each."""
    order: list[Node] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    for node in reversed(order):  # children before parents: a child dummy's list is final already
        kept: list[Node] = []
        for child in node.children:
            if child.row is None:
                for grandchild in child.children:
                    grandchild.parent = node
                kept.extend(child.children)
            else:
                kept.append(child)
        node.children = kept
    out: list[Node] = []
    for root in roots:
        if root.row is not None or len(root.children) > 1:
            out.append(root)
        elif root.children:
            child = root.children[0]
            child.parent = None
            out.append(child)
    return out


def _link(parent: Node, child: Node) -> None:
    """Make a root (no parent) a child of ``parent``."""
    child.parent = parent
    parent.children.append(child)


def _sort_siblings(roots: list[Node]) -> None:
    """Sort every set of siblings by sent date (children first, so a dummy's date is its first child's)."""
    order: list[Node] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    for node in reversed(order):
        node.children.sort(key=Node.date)
    roots.sort(key=Node.date)


def _subject_of(node: Node) -> str:
    """The thread subject of a root: its base subject, or its first child's for a dummy."""
    row = node.row if node.row is not None else (node.children[0].row if node.children else None)
    return collate(base_subject(row.subject)[0]) if row is not None else ""


def _is_reply(node: Node) -> bool:
    return node.row is not None and base_subject(node.row.subject)[1]


def _group_by_subject(roots: list[Node]) -> list[Node]:
    """RFC 5256 step 5: threads whose roots share a base subject are merged."""
    table: dict[str, Node] = {}
    for root in roots:  # (5B-C) one representative per subject: a dummy, else a message that is no reply
        subject = _subject_of(root)
        if not subject:
            continue
        held = table.get(subject)
        if held is None or (held.row is not None and (root.row is None or (_is_reply(held) and not _is_reply(root)))):
            table[subject] = root
    deleted: set[int] = set()
    made: list[Node] = []
    for root in roots:  # (5D-E) merge each other root into its subject's representative
        subject = _subject_of(root)
        held = table.get(subject) if subject else None
        if held is None or held is root:
            continue
        if held.row is None and root.row is None:
            for child in root.children:
                child.parent = held
            held.children.extend(root.children)
            root.children = []
            deleted.add(id(root))
        elif held.row is None or (_is_reply(root) and not _is_reply(held)):
            _link(held, root)
        else:
            dummy = Node()
            _link(dummy, held)
            _link(dummy, root)
            table[subject] = dummy
            made.append(dummy)
    return [n for n in roots + made if n.parent is None and id(n) not in deleted]


def thread_orderedsubject(rows: Sequence[Row]) -> list[Node]:
    """RFC 5256 THREAD=ORDEREDSUBJECT: one thread per base subject, the rest children of the first."""
    keyed = sorted(rows, key=lambda r: (collate(base_subject(r.subject)[0]), r.sent, r.seq))
    roots: list[Node] = []
    current: Node | None = None
    current_subject: str | None = None
    for row in keyed:
        subject = collate(base_subject(row.subject)[0])
        if current is None or subject != current_subject:
            current, current_subject = Node(row=row), subject
            roots.append(current)
        else:
            child = Node(row=row, parent=current)
            current.children.append(child)
    roots.sort(key=Node.date)
    return roots


def format_threads(roots: Sequence[Node], number: dict[int, int]) -> bytes:
    """The THREAD response data: ``(1 2 (3)(4 5))``... ``number`` maps a row's seq to what to print
    (sequence number or UID). Iterative: a 100,000-deep chain prints without recursion."""
    out = bytearray()
    # A work item is a node to open, or a closing parenthesis.
    stack: list[tuple[Node, bool] | None] = [(root, True) for root in reversed(roots)]
    while stack:
        item = stack.pop()
        if item is None:
            out += b")"
            continue
        node, opens = item
        if opens:
            out += b"("
            stack.append(None)
        elif out[-1:] not in (b"(",):
            out += b" "
        if node.row is not None:
            out += b"%d" % number[node.row.seq]
        if len(node.children) == 1 and node.row is not None:
            stack.append((node.children[0], False))
        else:
            if node.row is not None and node.children:
                out += b" "
            stack.extend((child, True) for child in reversed(node.children))
    return bytes(out)
