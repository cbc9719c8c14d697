"""SORT and THREAD as pure functions (agents/imap/sorting.py): base subjects, orders, thread trees,
and hostile shapes (deep chains, loops, many messages) that must stay bounded and recursion-free."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from agents.imap import parser as p
from agents.imap.lexer import Atom
from agents.imap.sorting import (
    Row,
    base_subject,
    format_threads,
    parse_sort_criteria,
    sort,
    thread_orderedsubject,
    thread_references,
)
from agents.store.bulk import BulkWriter

from .conftest import ALICE


@pytest.mark.parametrize(("subject", "base", "reply"), [
    ("Hello", "Hello", False),
    ("Re: Hello", "Hello", True),
    ("RE:Hello", "Hello", True),
    ("Fw: Hello", "Hello", True),
    ("FWD : Hello", "Hello", True),
    ("Re: Re: re: Hello", "Hello", True),
    ("Re[2]: Hello", "Hello", True),
    ("Rex: Hello", "Rex: Hello", False),
    ("Re [2]: Hello", "Hello", True),
    ("[list] Hello", "Hello", False),
    ("[list] Re: [list] Hello", "Hello", True),
    ("[a][b] Re: c", "c", True),
    ("[list]", "[list]", False),  # removing the blob would leave nothing
    ("Hello (fwd)", "Hello", True),
    ("Hello (fwd) (FWD)  ", "Hello", True),
    ("[fwd: Hello]", "Hello", True),
    ("Re: [fwd: Re: Hello (fwd)]", "Hello", True),
    ("  multiple\t  spaces  here ", "multiple spaces here", False),
    ("Re:", "", True),
    ("", "", False),
])
def test_base_subject(subject, base, reply):
    assert base_subject(subject) == (base, reply)


def _row(seq: int, subject: str = "", sent: float = 0, **kw) -> Row:
    return Row(seq=seq, uid=seq * 10, arrival=kw.pop("arrival", seq), sent=sent, size=kw.pop("size", 100),
               subject=subject, **kw)


def test_sort_keys_and_ties():
    rows = [_row(1, "b", 3, size=5), _row(2, "Re: a", 1, size=5), _row(3, "A", 1, size=9),
            _row(4, "c", 2, from_=("zed", "Alpha")), _row(5, "a", 2, from_=("amy", "Zed"))]
    assert [r.seq for r in sort(rows, parse_sort_criteria([Atom("SUBJECT")]))] == [2, 3, 5, 1, 4]
    assert [r.seq for r in sort(rows, parse_sort_criteria([Atom("REVERSE"), Atom("DATE")]))] == [1, 4, 5, 2, 3]
    assert [r.seq for r in sort(rows, parse_sort_criteria([Atom("SIZE"), Atom("REVERSE"), Atom("ARRIVAL")]))] == [
        2, 1, 3, 5, 4]
    assert [r.seq for r in sort(rows, parse_sort_criteria([Atom("FROM")]))] == [1, 2, 3, 5, 4]
    assert [r.seq for r in sort(rows, parse_sort_criteria([Atom("DISPLAYFROM")]))] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("criteria", [[], [Atom("REVERSE")], [Atom("NOSUCH")], [Atom("REVERSE"), Atom("REVERSE")]])
def test_bad_sort_criteria(criteria):
    with pytest.raises(p.ParseError):
        parse_sort_criteria(criteria)


def _numbers(roots, rows) -> bytes:
    return format_threads(roots, {r.seq: r.seq for r in rows})


def test_references_threads():
    rows = [_row(1, "a", 10, message_id="<1@x>"),
            _row(2, "Re: a", 20, message_id="<2@x>", references="<1@x>"),
            _row(3, "Re: a", 30, message_id="<3@x>", references="<1@x> <2@x>"),
            _row(4, "Re: a", 5, message_id="<4@x>", references="<1@x>"),
            _row(5, "b", 1, message_id="<5@x>", references="<gone@x>"),
            _row(6, "Re: b", 2, message_id="<6@x>", references="<gone@x>"),
            _row(7, "c", 3), _row(8, "c", 4)]
    assert _numbers(thread_references(rows), rows) == b"((5)(6))((7)(8))(1 (4)(2 3))"
    assert _numbers(thread_orderedsubject(rows), rows) == b"(5 6)(7 8)(4 (1)(2)(3))"


def test_reference_loops_do_not_hang():
    rows = [_row(1, "x", 1, message_id="<1@x>", references="<2@x>"),
            _row(2, "y", 2, message_id="<2@x>", references="<1@x>"),
            _row(3, "z", 3, message_id="<3@x>", references="<3@x> <3@x>")]
    assert _numbers(thread_references(rows), rows) == b"(2 1)(3)"


def _chain(count: int, reverse: bool = False) -> list[Row]:
    rows = [_row(i, "Re: deep" if i > 1 else "deep", i, message_id=f"<{i}@x>",
                 references=f"<{i - 1}@x>" if i > 1 else "") for i in range(1, count + 1)]
    if reverse:  # children stored before their parents
        rows = [Row(**{**r.__dict__, "seq": count + 1 - r.seq}) for r in rows]
    return rows


@pytest.mark.parametrize("reverse", [False, True])
def test_a_chain_far_deeper_than_the_recursion_limit(reverse):
    count = sys.getrecursionlimit() * 20
    rows = _chain(count, reverse)
    out = _numbers(thread_references(rows), rows)
    assert out.count(b"(") == 1 and len(out.split()) == count
    out = _numbers(thread_orderedsubject(rows), rows)
    assert out.count(b"(") == count  # one root, every other message its child


def test_loop_checks_are_budgeted():
    """With the walk budget spent, links that need a loop check are refused; every message is still shown once."""
    rows = _chain(3000, reverse=True)
    for budget in (0, 10, 1_000_000):
        text = _numbers(thread_references(rows, budget=budget), rows)
        numbers = sorted(int(t) for t in text.replace(b"(", b" ").replace(b")", b" ").split())
        assert numbers == list(range(1, 3001))


def test_many_messages_one_subject_stay_flat():
    rows = [_row(i, "same", i, message_id=f"<{i}@x>") for i in range(1, 20_001)]
    roots = thread_references(rows)
    assert len(roots) == 1 and roots[0].row is None and len(roots[0].children) == 20_000


@dataclass
class _Item:
    raw: bytes
    key: str
    flags: tuple = ()
    date: float = 1_790_000_000.0


def test_a_deep_reply_chain_over_the_wire(imap_server):
    """5,000 messages, each replying to the one before (stored children first): one THREAD answer,
    one SORT answer, every message in each, no recursion anywhere on the way."""
    count = 5000
    writer = BulkWriter(imap_server.store.mailbox(ALICE), "INBOX", "test")
    for i in range(count, 0, -1):
        raw = (f"Subject: {'Re: ' if i > 1 else ''}chain\r\nMessage-ID: <{i}@x>\r\n"
               + (f"References: <{i - 1}@x>\r\n" if i > 1 else "") + f"Date: {i % 28 + 1} Nov 2026 10:00:00 +0000\r\n"
               + "\r\nbody\r\n").encode()
        writer.add(count + 1 - i, _Item(raw, str(i)))
    writer.commit()
    imap = imap_server.login()
    try:
        imap.select("INBOX")
        status, data = imap.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
        assert status == "OK"
        thread = data[0]
        assert thread.count(b"(") == 1 and thread.startswith(b"(%d " % count) and len(thread.split()) == count
        status, data = imap.uid("SORT", "(REVERSE DATE SUBJECT)", "UTF-8", "ALL")
        assert status == "OK" and sorted(int(n) for n in data[0].split()) == list(range(1, count + 1))
        status, data = imap.uid("THREAD", "ORDEREDSUBJECT", "UTF-8", "ALL")
        assert status == "OK" and data[0].count(b"(") == count
    finally:
        imap.logout()
